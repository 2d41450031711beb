// Keyboard shortcuts for a page's buttons (pages/access.py `shortcuts`). The bindings come in the data-bindings of
// the element #symbreak-keys drawn just before this script, so the script itself never changes and the security
// headers allow it by its hash (symbreak/serving/headers.py):
// [{keys: ["1"], selector: "...", label: "Step 1", cycle: false}, ...]. A key clicks the first enabled button
// its selector finds (a `cycle` binding clicks the one after the selected one). Keys never fire while a field,
// a slider or a menu has the focus, nor with Ctrl, Alt or Meta; Space is left to a focused button or link.
(() => {
  window.__symbreakKeys = JSON.parse(document.getElementById("symbreak-keys")?.dataset.bindings || "[]");
  const KEYS_SHORTCUTS = "aria-keyshortcuts";
  const label = key => (key === "space" ? "Space" : key.length === 1 ? key.toUpperCase() : key);

  // Each bound button says its keys to assistive technology (aria-keyshortcuts), again whenever the page changes.
  const mark = () => {
    for (const binding of window.__symbreakKeys) {
      for (const button of document.querySelectorAll(binding.selector)) {
        const keys = binding.keys.map(label).join(" ");
        if (button.getAttribute(KEYS_SHORTCUTS) !== keys) button.setAttribute(KEYS_SHORTCUTS, keys);
      }
    }
  };
  if (window.__symbreakKeysInstalled) {
    mark();
    return;
  }
  window.__symbreakKeysInstalled = true;

  const typing = el => el instanceof Element && (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName)
    || el.closest("[role=textbox], [role=combobox], [role=slider], [role=spinbutton], [role=listbox], "
                  + "[role=menu], [role=dialog], [contenteditable=true]") !== null);
  const activates = el => el instanceof Element
    && el.closest("button, a, summary, [role=button], [role=tab], [role=radio], [role=checkbox], [role=switch]") !== null;

  const target = binding => {
    const buttons = Array.from(document.querySelectorAll(binding.selector));
    if (!binding.cycle) return buttons.find(b => !b.disabled) || null;
    const at = buttons.findIndex(b => b.getAttribute("aria-checked") === "true" || /Active$/.test(b.dataset.testid || ""));
    return buttons.length > 1 ? buttons[(at + 1) % buttons.length] : null;
  };

  document.addEventListener("keydown", event => {
    if (event.defaultPrevented || event.ctrlKey || event.altKey || event.metaKey || event.repeat) return;
    if (typing(event.target)) return;
    const key = event.key === " " ? "space" : event.key.toLowerCase();
    if (key === "space" && activates(event.target)) return;
    const binding = window.__symbreakKeys.find(b => b.keys.includes(key));
    const button = binding && target(binding);
    if (!button) return;
    event.preventDefault();
    button.click();
  });

  let pending = false;
  new MutationObserver(() => {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => { pending = false; mark(); });
  }).observe(document.body, {childList: true, subtree: true});
  mark();

  // Said once per browser session by a polite live region, after it has been in the page a moment.
  if (!sessionStorage.getItem("symbreak.keys.said")) {
    sessionStorage.setItem("symbreak.keys.said", "1");
    const region = document.createElement("div");
    region.className = "symbreak-sr-only";
    region.setAttribute("role", "status");
    region.dataset.symbreak = "shortcuts";
    document.body.appendChild(region);
    setTimeout(() => {
      region.textContent = "Keyboard shortcuts: " + window.__symbreakKeys
        .map(b => b.keys.map(label).join(" or ") + " " + b.label).join(", ") + ".";
    }, 1500);
  }
})();
