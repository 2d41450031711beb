"""A student without a browser: a client of Streamlit's own websocket protocol, for tests and benchmarks.

It does what the browser does, no more: GET the page (a proxy's stickiness
cookie and the XSRF cookie come back), open `/_stcore/stream` with the
subprotocol list `streamlit, <xsrf token>`, send `rerun_script` BackMsgs and
read ForwardMsgs until `script_finished`. A button press is a rerun whose
widget states carry the button's trigger, sent to the button's fragment. It
answers the live chart's "drawn" report as the chart component does (see
pages/charts.py), at most `MAX_FPS` frames a second, and honours the page's
`run_every` timers as the browser does, so Play and a long Step N go on.

    async with Client("http://127.0.0.1:8501") as student:
        await student.press("Step 100")
        frames = await student.play(3.0)
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from http.cookies import SimpleCookie
from typing import Any, TypeVar

from streamlit.components.v2.bidi_component.main import _make_trigger_id
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

XSRF_COOKIE = "_streamlit_xsrf"
STREAM_PATH = "_stcore/stream"
HEALTH_PATH = "_stcore/health"
# The chart component's pace (pages/charts.py MAX_FPS) and the event it reports when a batch starts drawing.
MAX_FPS = 20
DRAWN_EVENT = "drawn"
TIMEOUT_SECONDS = 120.0
MAX_MESSAGE_BYTES = 64 * 2**20
# script_finished statuses that end a run the client waits for (a run cut short by st.rerun() is followed by another).
_DONE = {ForwardMsg.FINISHED_SUCCESSFULLY, ForwardMsg.FINISHED_WITH_COMPILE_ERROR,
         ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY}


class ProtocolError(RuntimeError):
    """The server did not answer as a Streamlit app does (no such button, an exception on the page, a timeout)."""


class Client:
    """One browser tab's worth of Streamlit protocol: open, press buttons, play, read the texts shown."""

    def __init__(self, base_url: str, page: str = "", cookies: dict[str, str] | None = None, query: str = ""):
        self.base_url = base_url.rstrip("/")
        self.page = page
        self.query = query
        self.cookies: dict[str, str] = dict(cookies or {})
        self.headers: dict[str, str] = {}
        self.session_id = ""
        self.exceptions: list[str] = []
        self._ws: ClientConnection | None = None
        self._reader: asyncio.Task | None = None
        self._elements: dict[tuple[int, ...], tuple[str, Any]] = {}  # delta path -> (fragment id, Element)
        self._written: set[tuple[int, ...]] = set()  # delta paths the current run has sent
        self._run_fragments: set[str] = set()  # the fragments the current run reruns (none: a full run)
        self._finished = asyncio.Condition()
        self._starts = 0  # runs started so far (each begins with a new_session message)
        self._done = 0  # the number (in start order) of the last run that finished
        self._page_hash = ""
        self._auto: dict[str, asyncio.Task] = {}
        self._intervals: dict[str, float] = {}
        self._sections: dict[str, tuple[str, str]] = {}  # expander label -> (widget id, fragment id)
        self._frames = 0
        self._chart_batch: dict[str, Any] = {}  # chart element id -> last batch number seen
        self._draw_free = 0.0  # when the emulated chart has drawn every frame queued so far
        self._pending: dict[str, asyncio.Future] = {}
        self._closed = asyncio.Event()

    async def __aenter__(self) -> Client:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ------------------------------------------------------------------ connection
    async def open(self) -> float:
        """GET the page and /_stcore/health (cookies), connect the websocket with them, run the first script;
        the seconds all that took."""
        start = time.perf_counter()
        await asyncio.to_thread(self._get, "/" + self.page + (f"?{self.query}" if self.query else ""))
        await asyncio.to_thread(self._get, "/" + HEALTH_PATH)
        parts = urllib.parse.urlsplit(self.base_url)
        ws_url = urllib.parse.urlunsplit(("wss" if parts.scheme == "https" else "ws", parts.netloc,
                                          parts.path + "/" + STREAM_PATH, "", ""))
        protocols = ["streamlit"] + ([self.cookies[XSRF_COOKIE]] if XSRF_COOKIE in self.cookies else [])
        extra = {"Origin": f"{parts.scheme}://{parts.netloc}", **self._cookie_header()}
        self._ws = await connect(ws_url, subprotocols=protocols, additional_headers=extra, max_size=MAX_MESSAGE_BYTES,
                                 open_timeout=TIMEOUT_SECONDS, compression=None)
        self.headers.update({k.lower(): v for k, v in self._ws.response.headers.raw_items()})
        self._take_cookies(self._ws.response.headers.get_all("Set-Cookie"))
        self._reader = asyncio.create_task(self._read())
        await self._timed(self._client_state())
        return time.perf_counter() - start

    async def close(self) -> None:
        """Close the websocket (the server keeps the session for `server.disconnectedSessionTTL`)."""
        self._stop_auto(list(self._auto))
        if self._ws is not None:
            await self._ws.close()
        if self._reader is not None:
            self._reader.cancel()
            try:
                await self._reader
            except (asyncio.CancelledError, Exception):
                pass
        self._ws = self._reader = None

    def _get(self, path: str) -> None:
        request = urllib.request.Request(self.base_url + path, headers=self._cookie_header())
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as reply:
            reply.read()
            self.headers.update({k.lower(): v for k, v in reply.headers.items()})
            self._take_cookies(reply.headers.get_all("Set-Cookie") or [])

    def _cookie_header(self) -> dict[str, str]:
        return {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())} if self.cookies else {}

    def _take_cookies(self, lines: list[str]) -> None:
        for line in lines:
            jar = SimpleCookie()
            jar.load(line)
            self.cookies.update({name: morsel.value for name, morsel in jar.items()})

    # ------------------------------------------------------------------ what was shown
    def texts(self) -> list[str]:
        """The markdown, text, heading and metric values of the elements shown now, top to bottom."""
        out = []
        for path in sorted(self._elements):
            element = self._elements[path][1]
            kind = element.WhichOneof("type")
            if kind in ("markdown", "text", "heading"):
                out.append(getattr(element, kind).body)
            elif kind == "code":
                out.append(element.code.code_text)
            elif kind == "metric":
                out.append(f"{element.metric.label}: {element.metric.body}")
            elif kind == "alert":
                out.append(element.alert.body)
            elif kind == "exception":
                out.append(f"{element.exception.type}: {element.exception.message}")
        return out

    def widget(self, label_or_key: str, kind: str | None = None) -> tuple[str, Any, str]:
        """(element kind, widget proto, fragment id) of the shown widget with this label (or with the key inside
        its id, as Streamlit writes user keys into widget ids)."""
        found = []
        for fragment, element in self._elements.values():
            which = element.WhichOneof("type")
            proto = getattr(element, which) if which else None
            if kind and which != kind or not hasattr(proto, "id") or not proto.id:
                continue
            if getattr(proto, "label", None) == label_or_key or proto.id.endswith("-" + label_or_key):
                found.append((which, proto, fragment))
        if not found:
            labels = sorted({getattr(p, "label", "") for _, e in self._elements.values()
                             for p in [getattr(e, e.WhichOneof("type") or "text")] if getattr(p, "id", "")})
            raise ProtocolError(f"no widget labelled {label_or_key!r} on the page; widgets shown: {labels}")
        return found[0]

    # ------------------------------------------------------------------ actions
    async def press(self, label: str) -> float:
        """Press the button labelled `label`; seconds until the run it causes finishes and, if the button is then
        shown disabled (a long Step N trained over several runs, paced by the chart), until it is enabled again."""
        _, button, fragment = self.widget(label, "button")
        if button.disabled:
            raise ProtocolError(f"the button {label!r} is disabled")
        start = time.perf_counter()
        await self._timed(self._client_state([_trigger(button.id)], fragment))
        while self._disabled(button.id):
            try:
                await self._next_finish(self._done)
            except ProtocolError as error:
                raise ProtocolError(f"the button {label!r} stayed disabled after its press: {error}") from None
        return time.perf_counter() - start

    def _disabled(self, widget_id: str) -> bool:
        return any(e.button.id == widget_id and e.button.disabled
                   for _, e in self._elements.values() if e.WhichOneof("type") == "button")

    async def rerun(self, widget_states: list[WidgetState] | None = None) -> float:
        """A full rerun with these widget states (the others keep their values); seconds until script_finished."""
        return await self._timed(self._client_state(widget_states or []))

    async def play(self, seconds: float) -> int:
        """Press Play, answer the live chart's "drawn" reports for `seconds`, press Pause; the frames received
        (counted from the end of the Play press)."""
        await self.press("Play")
        start = self._frames
        await asyncio.sleep(seconds)
        frames = self._frames - start
        await self.press("Pause")
        return frames

    async def expand(self, label: str) -> float:
        """Open the expander labelled `label` (a stateful one: its content may be drawn only while open)."""
        section_id, fragment = self._sections.get(label, ("", ""))
        if not section_id:
            raise ProtocolError(f"no stateful expander labelled {label!r}; expanders seen: {sorted(self._sections)}")
        return await self._timed(self._client_state([WidgetState(id=section_id, bool_value=True)], fragment))

    async def upload(self, label_or_key: str, name: str, data: bytes) -> float:
        """Give the file uploader `label_or_key` one file, as the browser does; seconds until script_finished."""
        _, uploader, fragment = self.widget(label_or_key, "file_uploader")
        request_id = uuid.uuid4().hex
        future = self._pending[request_id] = asyncio.get_running_loop().create_future()
        msg = BackMsg()
        msg.file_urls_request.request_id = request_id
        msg.file_urls_request.session_id = self.session_id
        msg.file_urls_request.file_names.append(name)
        await self._send(msg)
        reply = await asyncio.wait_for(future, TIMEOUT_SECONDS)
        if reply.error_msg:
            raise ProtocolError(f"the server refused the upload: {reply.error_msg}")
        urls = reply.file_urls[0]
        await asyncio.to_thread(self._put, urls.upload_url, name, data)
        state = WidgetState(id=uploader.id)
        info = state.file_uploader_state_value.uploaded_file_info.add()
        info.name, info.size, info.file_id = name, len(data), urls.file_id
        info.file_urls.CopyFrom(urls)
        return await self._timed(self._client_state([state], fragment))

    def _put(self, url: str, name: str, data: bytes) -> None:
        boundary = uuid.uuid4().hex
        body = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
                f"Content-Type: application/octet-stream\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
        headers = {**self._cookie_header(), "Content-Type": f"multipart/form-data; boundary={boundary}",
                   "X-Xsrftoken": self.cookies.get(XSRF_COOKIE, "")}
        target = url if "://" in url else self.base_url + "/" + url.lstrip("/")
        request = urllib.request.Request(target, data=body, method="PUT", headers=headers)
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as reply:
            reply.read()

    # ------------------------------------------------------------------ protocol
    def _client_state(self, states: list[WidgetState] | None = None, fragment: str = "",
                      auto: bool = False) -> BackMsg:
        msg = BackMsg()
        client = msg.rerun_script
        client.query_string = self.query
        client.page_name = self.page
        client.page_script_hash = self._page_hash
        client.fragment_id = fragment
        client.is_auto_rerun = auto
        client.widget_states.widgets.extend(states or [])
        return msg

    async def _send(self, msg: BackMsg) -> None:
        if self._ws is None:
            raise ProtocolError("the client is not open")
        await self._ws.send(msg.SerializeToString())

    async def _timed(self, msg: BackMsg) -> float:
        """Send a rerun and wait until a run finishes (not one cut short for another); its seconds."""
        started = self._starts
        start = time.perf_counter()
        await self._send(msg)
        await self._next_finish(started)
        return time.perf_counter() - start

    async def _next_finish(self, after: int) -> None:
        """Wait until a run that started after the first `after` runs has finished (runs one at a time, in order:
        so a run that was already going when a rerun was sent does not count for it)."""
        async with self._finished:
            try:
                await asyncio.wait_for(self._finished.wait_for(lambda: self._done > after or self._closed.is_set()),
                                       TIMEOUT_SECONDS)
            except TimeoutError:
                raise ProtocolError(f"no script_finished within {TIMEOUT_SECONDS:.0f} s") from None
        if self._done <= after:
            raise ProtocolError("the server closed the websocket")

    async def _read(self) -> None:
        try:
            async for data in self._ws:
                msg = ForwardMsg()
                msg.ParseFromString(data)
                await self._handle(msg)
        except ConnectionClosed:
            pass  # the waiters hear of it below
        finally:
            self._closed.set()
            async with self._finished:
                self._finished.notify_all()

    async def _handle(self, msg: ForwardMsg) -> None:
        kind = msg.WhichOneof("type")
        if kind == "new_session":
            self._starts += 1
            self._written, self._run_fragments = set(), set(msg.metadata.run.fragment_ids)
            if not msg.metadata.run.fragment_ids:  # a full run: the browser drops every run_every timer
                self._stop_auto(list(self._auto))
            self.session_id = msg.new_session.initialize.session_id
            self._page_hash = msg.new_session.page_script_hash
        elif kind == "page_info_changed":  # the app set st.query_params: the browser's address follows
            self.query = msg.page_info_changed.query_string
        elif kind == "navigation":
            self._page_hash = msg.navigation.page_script_hash or self._page_hash
        elif kind == "delta":
            self._delta(msg)
        elif kind == "script_finished":
            if msg.script_finished in _DONE:
                self._drop_stale()
            async with self._finished:
                if msg.script_finished in _DONE:
                    self._done = self._starts
                self._finished.notify_all()
        elif kind == "auto_rerun":
            self._start_auto(msg.auto_rerun.fragment_id, msg.auto_rerun.interval)
        elif kind == "stop_auto_rerun":
            self._stop_auto(msg.stop_auto_rerun.fragment_ids)
        elif kind == "file_urls_response":
            future = self._pending.pop(msg.file_urls_response.response_id, None)
            if future and not future.done():
                future.set_result(msg.file_urls_response)

    def _delta(self, msg: ForwardMsg) -> None:
        path = tuple(msg.metadata.delta_path)
        delta = msg.delta
        self._written.add(path)
        if delta.WhichOneof("type") == "add_block" and delta.add_block.WhichOneof("type") == "expandable":
            self._sections[delta.add_block.expandable.label] = (delta.add_block.expandable.id, delta.fragment_id)
        if delta.WhichOneof("type") != "new_element":
            return
        element = delta.new_element
        self._elements[path] = (delta.fragment_id, element)
        which = element.WhichOneof("type")
        if which == "exception":
            self.exceptions.append(f"{element.exception.type}: {element.exception.message}")
        elif which == "bidi_component":
            self._chart(element.bidi_component, delta.fragment_id)

    def _drop_stale(self) -> None:
        """Forget the elements the run just finished did not send again, as the browser does: after a full run
        every such element, after a fragment run those of its fragments."""
        for path, (fragment, _) in list(self._elements.items()):
            if path not in self._written and (not self._run_fragments or fragment in self._run_fragments):
                del self._elements[path]

    # ------------------------------------------------------------------ the live chart, played
    def _chart(self, chart: Any, fragment: str) -> None:
        """A chart given a new batch: queue its frames at MAX_FPS and report "drawn" when the first one starts."""
        try:
            data = json.loads(chart.bytes or chart.json)  # the app's charts send one JSON document as bytes
        except ValueError:
            return
        batch = data.get("batch")
        if batch is None or self._chart_batch.get(chart.id) == batch:
            return
        self._chart_batch[chart.id] = batch
        frames = len(data.get("figures", []))
        self._frames += frames
        now = time.monotonic()
        start = max(now, self._draw_free)
        self._draw_free = start + frames / MAX_FPS
        asyncio.get_running_loop().call_later(start - now, self._report_drawn, chart.id, fragment, batch)

    def _report_drawn(self, chart_id: str, fragment: str, batch: int) -> None:
        if self._ws is None:
            return
        state = WidgetState(id=_make_trigger_id(chart_id, "events"))
        state.json_trigger_value = json.dumps([{"event": DRAWN_EVENT, "value": batch}])
        asyncio.ensure_future(self._send_quietly(self._client_state([state], fragment)))

    def _start_auto(self, fragment: str, interval: float) -> None:
        """The browser's `run_every` timer: an auto rerun of the fragment every `interval` s (kept if unchanged)."""
        if not fragment or self._intervals.get(fragment) == interval:
            return
        self._stop_auto([fragment])
        self._intervals[fragment] = interval
        self._auto[fragment] = asyncio.create_task(self._auto_loop(fragment, interval))

    def _stop_auto(self, fragments: list[str]) -> None:
        for fragment in fragments:
            self._intervals.pop(fragment, None)
            task = self._auto.pop(fragment, None)
            if task:
                task.cancel()

    async def _auto_loop(self, fragment: str, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            await self._send_quietly(self._client_state([], fragment, auto=True))

    async def _send_quietly(self, msg: BackMsg) -> None:
        try:
            await self._send(msg)
        except Exception:  # the websocket closed meanwhile: the next press reports it
            pass


def _trigger(widget_id: str) -> WidgetState:
    return WidgetState(id=widget_id, trigger_value=True)


T = TypeVar("T")


def run_async(lesson: Callable[[], Awaitable[T]]) -> T:
    """asyncio.run(lesson()) on a thread of its own: Playwright's sync API keeps an event loop running on the
    test's thread while a module's browser is open."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, lesson()).result()
