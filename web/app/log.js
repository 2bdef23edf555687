// log.js -- the page's live log: what was opened, refused, sent.
//
// Each entry is an <li data-testid="log-entry" data-kind=KIND> with the
// time, the topic and what happened; a refusal carries data-reason (the
// protocol's reason name). Newest first, at most MAX_ENTRIES kept.

const MAX_ENTRIES = 200;

export class Log {
  /** @param {HTMLOListElement} list */
  constructor(list) {
    this.list = list;
  }

  /**
   * Add an entry.
   * @param {'opened'|'refused'|'sent'|'info'|'error'} kind
   * @param {string} text shown as text, never as HTML
   * @param {{reason?: string, topic?: string}} [extra]
   */
  add(kind, text, extra = {}) {
    const li = document.createElement('li');
    li.dataset.testid = 'log-entry';
    li.dataset.kind = kind;
    if (extra.reason) {
      li.dataset.reason = extra.reason;
    }
    const t = document.createElement('time');
    t.textContent = new Date().toLocaleTimeString();
    const k = document.createElement('span');
    k.className = 'kind';
    k.textContent = kind;
    const body = document.createElement('span');
    body.className = 'text';
    body.textContent = (extra.topic ? extra.topic + ': ' : '') + text;
    li.append(t, ' ', k, ' ', body);
    this.list.prepend(li);
    while (this.list.children.length > MAX_ENTRIES) {
      this.list.lastElementChild.remove();
    }
  }
}
