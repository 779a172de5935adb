// Invite links: the form that makes one (uses and lifetime) and shows its link once, with a
// copy button; a list row per invite (uses left, expiry, revoke); and the dialog through which
// a user invites people where the server allows it. The admin page of every invite
// (views/admin-invites.js) is built from the same pieces.
//
// A link is `<origin>/#/invite/<token>`; the token is shown only when the invite is made (the
// server keeps its hash), so the link cannot be copied again later: make another.

import { api } from '../api.js';
import { h, icon, replace, toast } from '../dom.js';
import { state } from '../state.js';
import { errorText } from './auth.js';
import { confirmDialog, openDialog } from './dialogs.js';

/** How long an invite stays valid, as offered (the server takes 60 s to 30 days). */
const LIFETIMES = [
  { label: '1 hour', secs: 3600 },
  { label: '1 day', secs: 86400 },
  { label: '7 days', secs: 7 * 86400, chosen: true },
  { label: '30 days', secs: 30 * 86400 },
];

/** The most uses one invite may allow (the server's bound). */
const MAX_USES = 1000;

const INVITE_ERRORS = {
  admin_only: 'Only administrators can make invites on this server.',
  too_many_invites: 'You have 20 invites that still work. Revoke one, or wait until one is used or expires.',
  out_of_range: 'An invite allows 1 to 1000 sign-ups, for a minute to 30 days.',
  invite_not_found: 'That invite is gone already.',
};

function inviteErrorText(err) {
  return INVITE_ERRORS[err && err.code] || errorText(err || {});
}

/** The sign-up link of an invite's token, on this server. */
export function inviteLink(token) {
  return `${location.origin}${location.pathname}#/invite/${token}`;
}

// The server's sign-up info, read once per page load: whether users may invite.
let signupInfo = null;

/** Whether the signed-in user may make invites: an administrator, or anyone where allowed. */
export async function mayInvite() {
  if (!state.me) return false;
  if (state.me.role === 'admin') return true;
  if (!signupInfo) signupInfo = api.signupInfo().catch(() => ({ users_may_invite: false }));
  return Boolean((await signupInfo).users_may_invite);
}

/** Copies `text`; says so in a toast (or how to copy by hand where the clipboard is off). */
async function copy(text, input) {
  try {
    await navigator.clipboard.writeText(text);
    toast('Link copied.');
  } catch {
    input.select();
    toast('Press Ctrl+C (⌘C) to copy the selected link.');
  }
}

/** The box showing a new invite's link, once, with a copy button. */
function linkBox(token) {
  const link = inviteLink(token);
  const input = h('input', { type: 'text', class: 'invite-link-input', readonly: true, value: link, 'aria-label': 'Invite link', 'data-invite-link': '' });
  const button = h('button', { type: 'button', class: 'btn btn-primary', 'data-action': 'copy-invite' }, icon('link'), ' Copy link');
  button.addEventListener('click', () => copy(link, input));
  input.addEventListener('focus', () => input.select());
  return h('div', { class: 'invite-made', role: 'status' },
    h('p', {}, 'Invite made. Send this link to the people you invite; it is shown only now.'),
    h('div', { class: 'invite-link-row' }, input, button));
}

/**
 * The "new invite" form: uses and lifetime, then the link. `onMade(invite)` runs after each
 * invite is made (to refresh a list).
 */
export function inviteForm(onMade) {
  const uses = h('input', { type: 'number', id: 'invite-uses', min: '1', max: String(MAX_USES), step: '1', value: '1', inputmode: 'numeric', required: true });
  const lifetime = h('select', { id: 'invite-lifetime' },
    LIFETIMES.map((l) => h('option', { value: String(l.secs), selected: Boolean(l.chosen) }, l.label)));
  const error = h('p', { class: 'field-error', role: 'alert', 'data-error-for': 'invite' });
  const made = h('div', { class: 'invite-made-slot' });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary', 'data-action': 'make-invite' }, 'Make invite link');
  const form = h('form', { class: 'invite-form', 'data-form': 'invite', novalidate: true },
    h('div', { class: 'invite-fields' },
      h('div', { class: 'field' }, h('label', { for: 'invite-uses' }, 'Sign-ups allowed'), uses),
      h('div', { class: 'field' }, h('label', { for: 'invite-lifetime' }, 'Valid for'), lifetime),
      submit),
    error, made);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    error.textContent = '';
    const count = Number(uses.value);
    if (!Number.isInteger(count) || count < 1 || count > MAX_USES) {
      error.textContent = INVITE_ERRORS.out_of_range;
      uses.focus();
      return;
    }
    submit.disabled = true;
    try {
      const created = await api.createInvite(count, Number(lifetime.value));
      replace(made, linkBox(created.token));
      if (onMade) onMade(created.invite);
    } catch (err) {
      error.textContent = inviteErrorText(err);
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

/** A date and time: "3 Mar 2026, 14:03". */
function when(ms) {
  return new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' }).format(new Date(ms));
}

/** Where an invite stands: usable, used up or expired. */
export function inviteState(invite) {
  if (invite.uses_left === 0) return 'used-up';
  if (invite.expires_at <= Date.now()) return 'expired';
  return 'active';
}

const STATE_TEXT = { active: 'active', 'used-up': 'used up', expired: 'expired' };

/**
 * One invite in a list: its state, uses left, dates, and a revoke button. `maker` (optional)
 * is a node naming who made it; `onRevoked()` runs once it is revoked.
 */
export function inviteRow(invite, { maker = null, onRevoked } = {}) {
  const status = inviteState(invite);
  const revoke = h('button', { type: 'button', class: 'btn btn-danger-quiet btn-small', 'data-action': 'revoke-invite' }, 'Revoke');
  const row = h('div', { class: `invite-row invite-${status}`, role: 'listitem', 'data-invite': invite.id, 'data-state': status },
    h('span', { class: `tag tag-${status === 'active' ? 'online' : 'danger'}`, 'data-tag': status }, STATE_TEXT[status]),
    h('span', { class: 'invite-uses' }, `${invite.uses_left} of ${invite.uses} sign-up${invite.uses === 1 ? '' : 's'} left`),
    h('span', { class: 'invite-dates muted' }, `made ${when(invite.created_at)}`, maker ? ' by ' : null, maker,
      ` · ${status === 'expired' ? 'expired' : 'expires'} ${when(invite.expires_at)}`),
    revoke);
  revoke.addEventListener('click', async () => {
    const ok = await confirmDialog('Revoke this invite?', 'Its link stops working at once. Accounts made with it stay.', 'Revoke', true);
    if (!ok) return;
    try {
      await api.revokeInvite(invite.id);
      toast('Invite revoked.');
      row.remove();
      if (onRevoked) onRevoked();
    } catch (err) {
      toast(inviteErrorText(err), 'error');
    }
  });
  return row;
}

/** The user's invite dialog: make one, and see (and revoke) the ones made before. */
export function inviteDialog() {
  const list = h('div', { class: 'invite-list', role: 'list', 'data-invites': 'mine' });
  const load = async () => {
    try {
      const { invites } = await api.invites({ limit: 50 });
      replace(list, invites.length ? invites.map((i) => inviteRow(i)) : h('p', { class: 'list-empty' }, 'No invites yet.'));
    } catch (err) {
      replace(list, h('p', { class: 'form-error' }, inviteErrorText(err)));
    }
  };
  openDialog('Invite people', [
    h('p', { class: 'muted' }, 'Make a link that lets people create an account here.'),
    inviteForm(load),
    h('h3', { class: 'invite-list-head' }, 'Your invites'),
    list,
  ], null, { name: 'invite' });
  load();
}

export { inviteErrorText };
