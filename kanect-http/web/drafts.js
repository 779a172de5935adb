// What was typed in a conversation's composer and not sent: kept per conversation, so that
// switching conversations or reloading the page does not lose it. In localStorage (it outlives
// the tab, as a draft in Slack or Element does), keyed by the signed-in user and the
// conversation, so two accounts on one browser never see each other's drafts; all of a user's
// drafts go at log-out. A draft is kept whole, even past the message limit: the composer says
// it is too long, as it does for a paste.

const PREFIX = 'kanect.draft.';

/** The storage key of one draft. */
function key(userId, conversationId) {
  return `${PREFIX}${userId}.${conversationId}`;
}

/** The draft of a conversation, or '' (also when storage is disabled). */
export function getDraft(userId, conversationId) {
  try {
    return localStorage.getItem(key(userId, conversationId)) || '';
  } catch {
    return '';
  }
}

/** Keeps `text` as the conversation's draft; an empty (or blank) text removes it. */
export function setDraft(userId, conversationId, text) {
  try {
    if (text.trim()) localStorage.setItem(key(userId, conversationId), text);
    else localStorage.removeItem(key(userId, conversationId));
  } catch {
    // Storage full or disabled: the draft then lives as long as the composer.
  }
}

/** Removes every draft of a user (log-out). */
export function clearDrafts(userId) {
  try {
    const mine = `${PREFIX}${userId}.`;
    for (let i = localStorage.length - 1; i >= 0; i--) {
      const k = localStorage.key(i);
      if (k && k.startsWith(mine)) localStorage.removeItem(k);
    }
  } catch {
    // Storage disabled: there were no drafts.
  }
}
