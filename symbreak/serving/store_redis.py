"""The class store in Redis: for a class served from several pods, which all see the same students and polls.

Each class is a few keys under symbreak:class:CODE:, every one of them given the class's expiry time; a set of open
codes with their expiry bounds how many classes are open. A down Redis answers within the socket timeout, as
StoreDown, so a page never hangs on it.
"""

from __future__ import annotations

import functools
import json
import secrets
import time
from collections.abc import Callable
from typing import Any, TypeVar

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from symbreak.serving.store import (
    DEFAULT_TTL_SECONDS,
    MAX_ABOUT_BYTES,
    MAX_ROW_BYTES,
    ClassError,
    NewClass,
    Store,
    StoreDown,
    board_row,
    check_ballot,
    check_ttl,
    clean_name,
    display_names,
    hash_key,
    key_matches,
    labelled,
    new_code,
    normalise_code,
    state_changes,
    to_json,
    with_closed,
)

SOCKET_SECONDS = 0.5
# Each process's connections to Redis; a thread past them waits this long for one (a board of 60 students and
# their votes need far fewer at once, as each call holds one connection for a few round trips).
POOL_SIZE = 64
POOL_WAIT_SECONDS = 2.0
OPEN = "symbreak:open"
_Method = TypeVar("_Method", bound=Callable[..., Any])


def _reachable(method: _Method) -> _Method:
    """The method with any Redis failure (refused, timed out, out of memory) raised as StoreDown."""

    @functools.wraps(method)
    def call(self: RedisStore, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except redis.RedisError as exc:
            raise StoreDown(f"class store {self.where} cannot be reached: {exc}") from None

    return call  # type: ignore[return-value]


class RedisStore(Store):
    """Classes in a Redis database, shared by every process and pod that opens the same URL."""

    def __init__(self, url: str, **limits: int) -> None:
        super().__init__(**limits)
        # One quick retry: a pooled connection that broke while Redis restarted is made again, with no pause.
        try:
            pool = redis.BlockingConnectionPool.from_url(
                url, max_connections=POOL_SIZE, timeout=POOL_WAIT_SECONDS, decode_responses=True,
                socket_timeout=SOCKET_SECONDS, socket_connect_timeout=SOCKET_SECONDS, retry=Retry(NoBackoff(), 1))
        except ValueError as exc:
            raise ValueError(f"not a Redis URL ({exc}): use redis://HOST:PORT/DB") from None
        self.redis = redis.Redis(connection_pool=pool)
        kwargs = self.redis.connection_pool.connection_kwargs
        self.where = "redis at " + (kwargs.get("path") or f"{kwargs.get('host')}:{kwargs.get('port')}")

    @staticmethod
    def _key(code: str, part: str) -> str:
        return f"symbreak:class:{code}:{part}"

    def _expire(self, pipe: redis.client.Pipeline, code: str, expires_at: float, *parts: str) -> None:
        """Give the class's keys `parts` its expiry time (a key written after the class ended goes at once)."""
        for part in parts:
            pipe.pexpireat(self._key(code, part), int(float(expires_at) * 1000))

    def _teacher(self, code: str, key: str, found: str | None) -> None:
        """ClassError unless class `code` is open and `key` is its teacher's (`found` is its stored key hash)."""
        if found is None:
            raise self._no_class(code)
        if not key_matches(key, found):
            raise self._wrong_key(code)

    def _state(self, code: str, fields: dict[str, str], closed: set[str]) -> dict:
        """The state as stored (JSON values, an integer version) with its closed rounds."""
        if not fields:
            raise self._no_class(code)
        state = {name: int(value) if name == "version" else json.loads(value) for name, value in fields.items()}
        return with_closed(state, [tuple(json.loads(member)) for member in closed])

    @_reachable
    def new_class(self, ttl: float = DEFAULT_TTL_SECONDS) -> NewClass:
        now = time.time()
        expires_at = now + check_ttl(ttl)
        key = secrets.token_urlsafe(24)
        while True:
            code = new_code()
            pipe = self.redis.pipeline()
            pipe.zremrangebyscore(OPEN, "-inf", now)
            pipe.zadd(OPEN, {code: expires_at}, nx=True)
            pipe.zcard(OPEN)
            _, added, count = pipe.execute()
            if not added:
                continue
            if count > self.max_open_classes:
                self.redis.zrem(OPEN, code)
                raise self._too_many_classes()
            pipe = self.redis.pipeline()
            pipe.hset(self._key(code, "meta"), mapping={"key_hash": hash_key(key), "expires_at": repr(expires_at)})
            pipe.hset(self._key(code, "state"), "version", 0)
            self._expire(pipe, code, expires_at, "meta", "state")
            pipe.execute()
            return NewClass(code, key)

    @_reachable
    def exists(self, code: str) -> bool:
        try:
            code = normalise_code(code)
        except ClassError:
            return False
        return bool(self.redis.exists(self._key(code, "meta")))

    @_reachable
    def close(self, code: str, key: str) -> None:
        code = normalise_code(code)
        self._teacher(code, key, self.redis.hget(self._key(code, "meta"), "key_hash"))
        polls = self.redis.zrange(self._key(code, "polls"), 0, -1)
        pipe = self.redis.pipeline()
        pipe.delete(*(self._key(code, part) for part in ("meta", "state", "people", "rows", "closed", "polls",
                                                         "about")),
                    *(self._key(code, f"votes:{poll}") for poll in polls))
        pipe.zrem(OPEN, code)
        pipe.execute()

    @_reachable
    def check_key(self, code: str, key: str) -> bool:
        try:
            code = normalise_code(code)
        except ClassError:
            return False
        return key_matches(key, self.redis.hget(self._key(code, "meta"), "key_hash"))

    @_reachable
    def join(self, code: str, name: str) -> str:
        code, name = normalise_code(code), clean_name(name, self.max_name)
        expires_at = self.redis.hget(self._key(code, "meta"), "expires_at")
        if expires_at is None:
            raise self._no_class(code)
        student = secrets.token_urlsafe(16)
        people = self._key(code, "people")
        pipe = self.redis.pipeline()
        pipe.hset(people, student, json.dumps([name, time.time()], ensure_ascii=False))
        pipe.hlen(people)
        self._expire(pipe, code, expires_at, "people")
        _, count, _ = pipe.execute()
        if count > self.max_students:
            self.redis.hdel(people, student)
            raise self._full(code)
        return student

    def _member(self, code: str, student: str, watching: redis.client.Pipeline | None = None) -> str:
        """The class's expiry time, once `student` proved to be in open class `code`; ClassError otherwise.

        A pipeline `watching` keys reads them on its own connection, one command at a time."""
        if watching is not None:
            expires_at = watching.hget(self._key(code, "meta"), "expires_at")
            known = watching.hexists(self._key(code, "people"), str(student))
        else:
            pipe = self.redis.pipeline(transaction=False)
            pipe.hget(self._key(code, "meta"), "expires_at")
            pipe.hexists(self._key(code, "people"), str(student))
            expires_at, known = pipe.execute()
        if expires_at is None:
            raise self._no_class(code)
        if not known:
            raise self._unknown_student(code)
        return expires_at

    @_reachable
    def publish(self, code: str, student: str, row: dict) -> None:
        code = normalise_code(code)
        if not isinstance(row, dict):
            raise ClassError(f"row: a dict of the student's numbers (got {type(row).__name__})")
        text = to_json(row, "row", MAX_ROW_BYTES)
        expires_at = self._member(code, student)
        pipe = self.redis.pipeline()
        pipe.hset(self._key(code, "rows"), str(student), f"[{time.time()!r},{text}]")
        self._expire(pipe, code, expires_at, "rows")
        pipe.execute()

    @staticmethod
    def _board_row(person: str, row: str | None) -> dict:
        name, joined_at = json.loads(person)
        updated_at, published = json.loads(row) if row else (None, None)
        return board_row(name, joined_at, published, updated_at)

    @_reachable
    def own_row(self, code: str, student: str) -> dict | None:
        code = normalise_code(code)
        pipe = self.redis.pipeline(transaction=False)
        pipe.hget(self._key(code, "people"), str(student))
        pipe.hget(self._key(code, "rows"), str(student))
        person, row = pipe.execute()
        return self._board_row(person, row) if person else None

    @_reachable
    def rows(self, code: str, key: str) -> list[dict]:
        code = normalise_code(code)
        pipe = self.redis.pipeline(transaction=False)
        pipe.hget(self._key(code, "meta"), "key_hash")
        pipe.hgetall(self._key(code, "people"))
        pipe.hgetall(self._key(code, "rows"))
        found, people, rows = pipe.execute()
        self._teacher(code, key, found)
        board = [self._board_row(person, rows.get(student)) for student, person in people.items()]
        return labelled(sorted(board, key=lambda row: row["joined_at"]))

    @_reachable
    def set_state(self, code: str, key: str, **changes: object) -> dict:
        code, texts = normalise_code(code), state_changes(changes)
        meta = self.redis.hmget(self._key(code, "meta"), "key_hash", "expires_at")
        self._teacher(code, key, meta[0])
        pipe = self.redis.pipeline()
        if texts:
            pipe.hset(self._key(code, "state"), mapping=texts)
        pipe.hincrby(self._key(code, "state"), "version", 1)
        self._expire(pipe, code, meta[1], "state")
        pipe.hgetall(self._key(code, "state"))
        pipe.smembers(self._key(code, "closed"))
        *_, fields, closed = pipe.execute()
        return self._state(code, fields, closed)

    @_reachable
    def state(self, code: str) -> dict:
        code = normalise_code(code)
        pipe = self.redis.pipeline(transaction=False)
        pipe.hgetall(self._key(code, "state"))
        pipe.smembers(self._key(code, "closed"))
        return self._state(code, *pipe.execute())

    @_reachable
    def close_round(self, code: str, key: str, poll: str, round: int) -> dict:
        code = normalise_code(code)
        check_ballot(poll, round)
        meta = self.redis.hmget(self._key(code, "meta"), "key_hash", "expires_at")
        self._teacher(code, key, meta[0])
        pipe = self.redis.pipeline()
        pipe.sadd(self._key(code, "closed"), json.dumps([poll, round], ensure_ascii=False))
        pipe.zadd(self._key(code, "polls"), {poll: time.time()}, nx=True)
        pipe.hincrby(self._key(code, "state"), "version", 1)
        self._expire(pipe, code, meta[1], "closed", "polls", "state")
        pipe.hgetall(self._key(code, "state"))
        pipe.smembers(self._key(code, "closed"))
        *_, fields, closed = pipe.execute()
        return self._state(code, fields, closed)

    @_reachable
    def vote(self, code: str, student: str, poll: str, round: int, answer: str) -> None:
        code = normalise_code(code)
        check_ballot(poll, round, answer)
        closed = self._key(code, "closed")
        with self.redis.pipeline() as pipe:
            while True:
                try:
                    # A round closing between the check and the write makes the write fail and go round again.
                    pipe.watch(closed)
                    expires_at = self._member(code, student, watching=pipe)
                    if pipe.sismember(closed, json.dumps([poll, round], ensure_ascii=False)):
                        raise self._round_closed(poll, round)
                    pipe.multi()
                    pipe.hset(self._key(code, f"votes:{poll}"), f"{round}:{student}", answer)
                    pipe.zadd(self._key(code, "polls"), {poll: time.time()}, nx=True)
                    self._expire(pipe, code, expires_at, f"votes:{poll}", "polls")
                    pipe.execute()
                    return
                except redis.WatchError:
                    continue

    @_reachable
    def votes(self, code: str, key: str, poll: str) -> dict[int, dict[str, str]]:
        code = normalise_code(code)
        pipe = self.redis.pipeline(transaction=False)
        pipe.hget(self._key(code, "meta"), "key_hash")
        pipe.hgetall(self._key(code, "people"))
        pipe.hgetall(self._key(code, f"votes:{poll}"))
        found, people, ballots = pipe.execute()
        self._teacher(code, key, found)
        order = sorted(people, key=lambda student: json.loads(people[student])[1])
        shown = dict(zip(order, display_names([json.loads(people[student])[0] for student in order])))
        result: dict[int, dict[str, str]] = {}
        for field, answer in ballots.items():
            round, student = field.split(":", 1)
            if student in shown:
                result.setdefault(int(round), {})[shown[student]] = answer
        return {round: dict(sorted(result[round].items())) for round in sorted(result)}

    @_reachable
    def polls(self, code: str, key: str) -> list[str]:
        code = normalise_code(code)
        pipe = self.redis.pipeline(transaction=False)
        pipe.hget(self._key(code, "meta"), "key_hash")
        pipe.zrange(self._key(code, "polls"), 0, -1)
        found, polls = pipe.execute()
        self._teacher(code, key, found)
        return polls

    @_reachable
    def describe_poll(self, code: str, student: str, poll: str, about: dict) -> None:
        code = normalise_code(code)
        check_ballot(poll, 0)
        text = to_json(about, "poll description", MAX_ABOUT_BYTES)
        expires_at = self._member(code, student)
        pipe = self.redis.pipeline()
        pipe.hsetnx(self._key(code, "about"), poll, text)
        self._expire(pipe, code, expires_at, "about")
        pipe.execute()

    @_reachable
    def poll_about(self, code: str, key: str, poll: str) -> dict:
        code = normalise_code(code)
        pipe = self.redis.pipeline(transaction=False)
        pipe.hget(self._key(code, "meta"), "key_hash")
        pipe.hget(self._key(code, "about"), poll)
        found, text = pipe.execute()
        self._teacher(code, key, found)
        return json.loads(text) if text else {}

    @_reachable
    def own_vote(self, code: str, student: str, poll: str, round: int) -> str | None:
        code = normalise_code(code)
        check_ballot(poll, round)
        return self.redis.hget(self._key(code, f"votes:{poll}"), f"{round}:{student}")

    @_reachable
    def close_store(self) -> None:
        self.redis.close()
