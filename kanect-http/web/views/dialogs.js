// Modal dialogs on the native <dialog> element: confirm, create a group, manage a group's
// members and name.

import { avatar, displayName, h, icon, plural, replace, toast } from '../dom.js';
import * as session from '../session.js';
import { listed, on, presenceOf, state } from '../state.js';
import { errorText } from './auth.js';

/** Opens a dialog with a title, body nodes and a footer; returns `{dialog, close}`. */
export function openDialog(title, body, footer, { onClose, name } = {}) {
  const closeBtn = h('button', { type: 'button', class: 'icon-btn', 'aria-label': 'Close' }, icon('close'));
  const dialog = h('dialog', { class: 'dialog', 'aria-label': title, 'data-dialog': name || null },
    h('header', { class: 'dialog-head' }, h('h2', {}, title), closeBtn),
    h('div', { class: 'dialog-body' }, body),
    footer ? h('footer', { class: 'dialog-foot' }, footer) : null);
  const close = () => {
    if (dialog.open) dialog.close();
  };
  closeBtn.addEventListener('click', close);
  dialog.addEventListener('click', (event) => {
    if (event.target === dialog) close();
  });
  dialog.addEventListener('close', () => {
    dialog.remove();
    if (onClose) onClose();
  });
  document.body.append(dialog);
  dialog.showModal();
  return { dialog, close };
}

/** Asks a yes/no question; resolves with the answer. */
export function confirmDialog(title, text, okLabel = 'OK', danger = false) {
  return new Promise((resolve) => {
    let answer = false;
    const ok = h('button', { type: 'button', class: `btn ${danger ? 'btn-danger' : 'btn-primary'}`, 'data-action': 'confirm' }, okLabel);
    const cancel = h('button', { type: 'button', class: 'btn' }, 'Cancel');
    const { close } = openDialog(title, h('p', {}, text), [cancel, ok], { onClose: () => resolve(answer), name: 'confirm' });
    ok.addEventListener('click', () => {
      answer = true;
      close();
    });
    cancel.addEventListener('click', close);
    ok.focus();
  });
}

/** A filterable checklist of users (not me, not `exclude`); returns `{el, selected()}`. */
function userPicker(exclude = new Set(), multiple = true) {
  const chosen = new Set();
  const filter = h('input', { type: 'search', class: 'filter', placeholder: 'Search people', 'aria-label': 'Search people', spellcheck: 'false' });
  const list = h('div', { class: 'picker-list', role: 'group' });
  const render = () => {
    const text = filter.value.trim().toLowerCase();
    const users = [...state.users.values()]
      .filter((u) => u.id !== state.me.id && !exclude.has(u.id) && listed(u))
      .filter((u) => !text || u.username.toLowerCase().includes(text) || (u.display_name || '').toLowerCase().includes(text))
      .sort((a, b) => displayName(a).localeCompare(displayName(b)));
    replace(list, users.length ? users.map((u) => {
      const box = h('input', { type: multiple ? 'checkbox' : 'radio', name: 'pick', value: u.id, checked: chosen.has(u.id) });
      box.addEventListener('change', () => {
        if (!multiple) chosen.clear();
        if (box.checked) chosen.add(u.id);
        else chosen.delete(u.id);
      });
      return h('label', { class: 'pick', 'data-username': u.username }, box,
        avatar(u.id, displayName(u), { size: 'sm', online: Boolean(u.presence && u.presence.online) }),
        h('span', { class: 'pick-name' }, displayName(u)),
        h('span', { class: 'muted' }, `@${u.username}`));
    }) : h('p', { class: 'list-empty' }, 'Nobody to add.'));
  };
  let timer = null;
  filter.addEventListener('input', () => {
    render();
    clearTimeout(timer);
    const text = filter.value.trim();
    if (text) timer = setTimeout(() => session.searchUsers(text).then(render).catch(() => {}), 200);
  });
  render();
  return { el: h('div', { class: 'picker' }, filter, list), selected: () => [...chosen] };
}

/** The "new group" dialog; resolves with the new group's id, or null. */
export function groupDialog() {
  return new Promise((resolve) => {
    let created = null;
    const name = h('input', { type: 'text', id: 'group-name', maxlength: '64', placeholder: 'e.g. Lunch crew', autocomplete: 'off' });
    const error = h('p', { class: 'field-error', 'data-error-for': 'name' });
    const picker = userPicker();
    const create = h('button', { type: 'button', class: 'btn btn-primary', 'data-action': 'create-group' }, 'Create group');
    const cancel = h('button', { type: 'button', class: 'btn' }, 'Cancel');
    const { close } = openDialog('New group', [
      h('div', { class: 'field' }, h('label', { for: 'group-name' }, 'Group name'), name, error),
      h('div', { class: 'field' }, h('label', {}, 'Members'), picker.el),
    ], [cancel, create], { onClose: () => resolve(created), name: 'new-group' });
    cancel.addEventListener('click', close);
    create.addEventListener('click', async () => {
      error.textContent = '';
      if (!name.value.trim()) {
        error.textContent = 'Give the group a name.';
        name.focus();
        return;
      }
      create.disabled = true;
      try {
        created = await session.createGroup(name.value.trim(), picker.selected());
        close();
      } catch (err) {
        error.textContent = err.field === 'name' || err.field === null ? errorText({ ...err, field: 'display_name' }) : errorText(err);
      } finally {
        create.disabled = false;
      }
    });
    name.focus();
  });
}

/** The group details dialog: rename (owner), members with presence, add/remove (owner), leave. */
export function groupInfoDialog(conversationId) {
  const body = h('div', { class: 'group-info' });
  const leave = h('button', { type: 'button', class: 'btn btn-danger-quiet', 'data-action': 'leave' }, 'Leave group');
  let off = null;
  const { close } = openDialog('Group details', body, [leave], { onClose: () => off && off(), name: 'group-info' });

  let shown = null;
  const render = () => {
    const conv = state.conversations.get(conversationId);
    if (!conv) {
      close();
      return;
    }
    // Re-draw only when the group itself changed, not on every message (keeps inputs intact).
    const signature = JSON.stringify([conv.name, conv.owner, conv.members]);
    if (signature === shown) return;
    shown = signature;
    const owner = conv.owner === state.me.id;
    const parts = [];
    if (owner) {
      const name = h('input', { type: 'text', id: 'rename', value: conv.name || '', maxlength: '64', autocomplete: 'off' });
      const save = h('button', { type: 'button', class: 'btn', 'data-action': 'rename' }, 'Rename');
      const error = h('p', { class: 'field-error' });
      save.addEventListener('click', async () => {
        error.textContent = '';
        try {
          await session.renameGroup(conversationId, name.value.trim());
          toast('Group renamed.');
        } catch (err) {
          error.textContent = errorText({ ...err, field: 'display_name' });
        }
      });
      parts.push(h('div', { class: 'field' }, h('label', { for: 'rename' }, 'Name'), h('div', { class: 'row' }, name, save), error));
    } else {
      parts.push(h('p', { class: 'group-name-big' }, conv.name || 'Group'));
    }
    parts.push(h('h3', { class: 'list-head' }, plural(conv.members.length, 'member')));
    const members = conv.members.map((id) => state.users.get(id) || (id === state.me.id ? state.me : { id, username: '…' }))
      .sort((a, b) => displayName(a).localeCompare(displayName(b)));
    parts.push(h('ul', { class: 'members' }, members.map((u) => {
      const online = u.id === state.me.id || presenceOf(u) === 'online';
      let remove = null;
      if (owner && u.id !== state.me.id) {
        remove = h('button', { type: 'button', class: 'btn btn-small', 'data-action': 'remove-member' }, 'Remove');
        remove.addEventListener('click', () => session.removeMember(conversationId, u.id).catch((err) => toast(errorText(err), 'error')));
      }
      return h('li', { class: 'member', 'data-username': u.username },
        avatar(u.id, displayName(u), { size: 'sm', online }),
        h('span', { class: 'pick-name' }, u.id === state.me.id ? `${displayName(u)} (you)` : displayName(u)),
        conv.owner === u.id ? h('span', { class: 'tag' }, 'owner') : null,
        remove);
    })));
    if (owner) {
      const picker = userPicker(new Set(conv.members));
      const add = h('button', { type: 'button', class: 'btn btn-primary', 'data-action': 'add-members' }, 'Add selected');
      add.addEventListener('click', async () => {
        for (const id of picker.selected()) {
          try {
            await session.addMember(conversationId, id);
          } catch (err) {
            toast(errorText(err), 'error');
          }
        }
      });
      parts.push(h('h3', { class: 'list-head' }, 'Add people'), picker.el, h('div', { class: 'row row-end' }, add));
    }
    replace(body, parts);
  };
  leave.addEventListener('click', async () => {
    close();
    if (!(await confirmDialog('Leave group?', 'You will stop receiving its messages.', 'Leave', true))) return;
    try {
      await session.leaveGroup(conversationId);
      location.hash = '#/';
    } catch (err) {
      toast(errorText(err), 'error');
    }
  });
  off = on('conversations', render);
  render();
}
