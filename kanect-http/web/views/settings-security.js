// Settings › Security: change the password (the current one asked again; optionally ending
// the other sessions), the list of my sessions (devices) with "End" for each, and deleting my
// account (confirmed by the password). Exporting my data sits here too, as a download link.

import { api } from '../api.js';
import { h, plural, replace, toast } from '../dom.js';
import * as session from '../session.js';
import { state } from '../state.js';
import { passwordStrength } from '../strength.js';
import { listTime } from '../time.js';
import { errorText } from './auth.js';
import { confirmDialog } from './dialogs.js';

/** A labelled password input with its error line; returns `{el, input, error(text)}`. */
function passwordField(id, label, autocomplete) {
  const input = h('input', { type: 'password', id, autocomplete, maxlength: '256' });
  const line = h('p', { class: 'field-error', 'data-error-for': id, 'aria-live': 'polite' });
  const el = h('div', { class: 'field', 'data-field': id }, h('label', { for: id }, label), input, line);
  return {
    el,
    input,
    error(text) {
      line.textContent = text || '';
      el.classList.toggle('invalid', Boolean(text));
    },
  };
}

/** A short name for a user agent: "Firefox on Linux", or the agent itself when unknown. */
export function deviceName(agent) {
  if (!agent) return 'Unknown device';
  const browser = [['Edg/', 'Edge'], ['OPR/', 'Opera'], ['Firefox/', 'Firefox'], ['Chrome/', 'Chrome'], ['Safari/', 'Safari']]
    .find(([mark]) => agent.includes(mark));
  const system = [['Android', 'Android'], ['iPhone', 'iPhone'], ['iPad', 'iPad'], ['Windows', 'Windows'], ['Mac OS', 'macOS'], ['Linux', 'Linux']]
    .find(([mark]) => agent.includes(mark));
  if (!browser) return agent.length > 60 ? `${agent.slice(0, 60)}…` : agent;
  return system ? `${browser[1]} on ${system[1]}` : browser[1];
}

function passwordCard() {
  const current = passwordField('current-password', 'Current password', 'current-password');
  const next = passwordField('new-password', 'New password', 'new-password');
  const meter = h('p', { class: 'muted field-hint', 'data-strength': '' });
  next.input.addEventListener('input', () => {
    const strength = next.input.value ? passwordStrength(next.input.value, state.me.username) : null;
    meter.textContent = strength ? `Strength: ${strength.label}` : '';
    meter.setAttribute('data-strength', strength ? String(strength.score) : '');
  });
  next.el.insertBefore(meter, next.el.lastChild);
  const others = h('input', { type: 'checkbox', id: 'end-others', checked: true });
  const save = h('button', { type: 'submit', class: 'btn btn-primary', 'data-action': 'change-password' }, 'Change password');
  const form = h('form', { class: 'settings-card', novalidate: true, 'data-form': 'password' },
    h('h2', {}, 'Password'),
    current.el, next.el,
    h('label', { class: 'check', for: 'end-others' }, others, ' Log out my other devices'),
    h('div', { class: 'row row-end' }, save));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    current.error('');
    next.error('');
    if (!current.input.value) return current.error('Enter your current password.');
    if (passwordStrength(next.input.value, state.me.username).weak) {
      return next.error(errorText({ field: 'password', code: [...next.input.value].length < 8 ? 'too_short' : 'too_weak' }));
    }
    save.disabled = true;
    try {
      const answer = await api.changePassword(current.input.value, next.input.value, others.checked);
      form.reset();
      meter.textContent = '';
      toast(answer.ended_sessions ? `Password changed. ${plural(answer.ended_sessions, 'other device')} logged out.` : 'Password changed.');
      form.dispatchEvent(new CustomEvent('changed', { bubbles: true }));
    } catch (err) {
      if (err.field === 'password') next.error(errorText(err));
      else current.error(errorText(err));
    } finally {
      save.disabled = false;
    }
  });
  return form;
}

function sessionsCard() {
  const list = h('ul', { class: 'settings-sessions', 'data-list': 'sessions', 'aria-live': 'polite' });
  const card = h('section', { class: 'settings-card', 'data-section': 'sessions' },
    h('h2', {}, 'Where you are logged in'), list);
  const load = async () => {
    try {
      const { sessions } = await api.sessions();
      replace(list, sessions.map((s) => {
        const end = s.current
          ? h('span', { class: 'tag', 'data-tag': 'current' }, 'This device')
          : h('button', { type: 'button', class: 'btn btn-small', 'data-action': 'end-session' }, 'End');
        if (!s.current) {
          end.addEventListener('click', async () => {
            end.disabled = true;
            try {
              await api.endSession(s.id);
              toast('That device was logged out.');
            } catch (err) {
              toast(errorText(err), 'error');
            }
            load();
          });
        }
        const used = s.last_used ? `active ${listTime(s.last_used)}` : 'not used yet';
        return h('li', { class: 'settings-session', 'data-session': s.id, 'data-current': String(s.current) },
          h('div', { class: 'settings-session-main' },
            h('span', { class: 'settings-session-name' }, deviceName(s.user_agent)),
            h('span', { class: 'muted' }, `Logged in ${listTime(s.created_at)} · ${used}`)),
          end);
      }));
    } catch (err) {
      replace(list, h('li', { class: 'form-error' }, errorText(err)));
    }
  };
  load();
  card.addEventListener('reload', load);
  return card;
}

function exportCard() {
  return h('section', { class: 'settings-card', 'data-section': 'export' },
    h('h2', {}, 'Your data'),
    h('p', { class: 'muted' }, 'Download your profile, your conversations (with their members) and every message you sent, as one JSON file.'),
    h('div', { class: 'row' }, h('a', { class: 'btn', href: '/api/v1/me/export', download: 'kanect-my-data.json', 'data-action': 'export' }, 'Export my data')));
}

function deleteCard() {
  const password = passwordField('delete-password', 'Your password', 'current-password');
  const go = h('button', { type: 'submit', class: 'btn btn-danger', 'data-action': 'delete-account' }, 'Delete my account');
  const form = h('form', { class: 'settings-card settings-danger', novalidate: true, 'data-form': 'delete-account' },
    h('h2', {}, 'Delete account'),
    h('p', { class: 'muted' }, 'Your account, sessions and picture are deleted and you leave your groups. Messages you sent stay in the others’ conversations, shown as from a deleted account. This cannot be undone.'),
    password.el,
    h('div', { class: 'row row-end' }, go));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    password.error('');
    if (!password.input.value) return password.error('Enter your password to confirm.');
    const sure = await confirmDialog('Delete your account?', 'This cannot be undone.', 'Delete my account', true);
    if (!sure) return undefined;
    go.disabled = true;
    try {
      await session.deleteAccount(password.input.value);
    } catch (err) {
      password.error(errorText(err));
      go.disabled = false;
    }
    return undefined;
  });
  return form;
}

/** Renders the security tab into `main`. */
export function renderSecurity(main) {
  const sessions = sessionsCard();
  const password = passwordCard();
  password.addEventListener('changed', () => sessions.dispatchEvent(new Event('reload')));
  replace(main, password, sessions, exportCard(), deleteCard());
}
