// Settings › Profile: display name, status text and avatar. Saved changes come back as the
// server's record (and as a `user` frame to every device), so the sidebar updates by itself.

import { api, avatarUrl } from '../api.js';
import { avatar, displayName, h, localImage, replace, toast } from '../dom.js';
import { state } from '../state.js';
import * as session from '../session.js';
import { errorText } from './auth.js';

/** The longest status, in characters (the server's limit). */
const STATUS_MAX = 100;

/** The big avatar at the top of the tab: `user`'s picture or initials, or a chosen file's preview. */
function bigAvatar(user, previewDataUrl = null) {
  if (!previewDataUrl) return avatar(user.id, displayName(user), { size: 'xl', image: avatarUrl(user) });
  const el = avatar(user.id, displayName(user), { size: 'xl' });
  const img = localImage(previewDataUrl, 'avatar-img');
  if (img) el.append(img);
  return el;
}

/** A file's contents as a data URL. */
function dataUrlOf(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.addEventListener('load', () => resolve(String(reader.result)));
    reader.addEventListener('error', () => reject(reader.error));
    reader.readAsDataURL(file);
  });
}

/** Renders the profile tab into `main`. */
export function renderProfile(main) {
  const me = state.me;
  const preview = h('div', { class: 'settings-avatar', 'data-avatar-preview': me.avatar ? 'picture' : 'initials' }, bigAvatar(me));
  const file = h('input', { type: 'file', accept: 'image/jpeg,image/png,image/gif,image/webp', class: 'visually-hidden', id: 'avatar-file', 'data-action': 'choose-avatar' });
  const choose = h('label', { class: 'btn', for: 'avatar-file' }, 'Upload picture');
  const remove = h('button', { type: 'button', class: 'btn', 'data-action': 'remove-avatar', disabled: !me.avatar }, 'Remove');
  const use = h('button', { type: 'button', class: 'btn btn-primary', 'data-action': 'save-avatar', hidden: true }, 'Use this picture');
  const cancel = h('button', { type: 'button', class: 'btn', 'data-action': 'cancel-avatar', hidden: true }, 'Cancel');
  const avatarError = h('p', { class: 'field-error', 'data-error-for': 'avatar', 'aria-live': 'polite' });
  let chosen = null;

  const showCurrent = () => {
    chosen = null;
    file.value = '';
    use.hidden = true;
    cancel.hidden = true;
    choose.hidden = false;
    remove.disabled = !state.me.avatar;
    preview.setAttribute('data-avatar-preview', state.me.avatar ? 'picture' : 'initials');
    replace(preview, bigAvatar(state.me));
  };
  file.addEventListener('change', async () => {
    const picked = file.files && file.files[0];
    if (!picked) return;
    chosen = picked;
    avatarError.textContent = '';
    // A preview only of what is small enough to be a picture the server takes (5 MB).
    const shown = picked.size <= 5 * 1024 * 1024 ? await dataUrlOf(picked).catch(() => null) : null;
    if (chosen !== picked) return; // another file was chosen meanwhile
    preview.setAttribute('data-avatar-preview', 'chosen');
    replace(preview, bigAvatar(state.me, shown));
    use.hidden = false;
    cancel.hidden = false;
    choose.hidden = true;
  });
  cancel.addEventListener('click', showCurrent);
  use.addEventListener('click', async () => {
    use.disabled = true;
    try {
      session.applyMe(await api.setAvatar(chosen));
      toast('Picture saved.');
      showCurrent();
    } catch (err) {
      avatarError.textContent = errorText({ ...err, field: err.field || 'avatar' });
    } finally {
      use.disabled = false;
    }
  });
  remove.addEventListener('click', async () => {
    remove.disabled = true;
    try {
      session.applyMe(await api.removeAvatar());
      toast('Picture removed.');
    } catch (err) {
      toast(errorText(err), 'error');
    }
    showCurrent();
  });

  const name = h('input', { type: 'text', id: 'display_name', maxlength: '64', autocomplete: 'name', value: me.display_name || '', placeholder: me.username });
  const status = h('input', { type: 'text', id: 'status', maxlength: String(STATUS_MAX * 2), value: me.status || '', placeholder: 'What are you up to? An emoji works too' });
  const count = h('span', { class: 'muted settings-count', 'data-count': 'status' });
  const nameError = h('p', { class: 'field-error', 'data-error-for': 'display_name', 'aria-live': 'polite' });
  const statusError = h('p', { class: 'field-error', 'data-error-for': 'status', 'aria-live': 'polite' });
  const counted = () => {
    const n = [...status.value.trim()].length;
    count.textContent = `${n}/${STATUS_MAX}`;
    count.classList.toggle('over', n > STATUS_MAX);
  };
  status.addEventListener('input', counted);
  counted();
  const save = h('button', { type: 'submit', class: 'btn btn-primary', 'data-action': 'save-profile' }, 'Save');
  const form = h('form', { class: 'settings-card', novalidate: true, 'data-form': 'profile' },
    h('h2', {}, 'Name and status'),
    h('div', { class: 'field', 'data-field': 'display_name' }, h('label', { for: 'display_name' }, 'Display name'), name,
      h('p', { class: 'muted field-hint' }, `Shown instead of @${me.username}. Leave it empty to show your username.`), nameError),
    h('div', { class: 'field', 'data-field': 'status' }, h('label', { for: 'status' }, 'Status'), status, count, statusError),
    h('div', { class: 'row row-end' }, save));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    nameError.textContent = '';
    statusError.textContent = '';
    if ([...status.value.trim()].length > STATUS_MAX) {
      statusError.textContent = errorText({ field: 'status', code: 'too_long' });
      return;
    }
    save.disabled = true;
    try {
      session.applyMe(await api.updateProfile({ display_name: name.value, status: status.value }));
      toast('Profile saved.');
    } catch (err) {
      (err.field === 'status' ? statusError : err.field === 'display_name' ? nameError : statusError).textContent = errorText(err);
    } finally {
      save.disabled = false;
    }
  });

  replace(main,
    h('section', { class: 'settings-card', 'data-section': 'avatar' },
      h('h2', {}, 'Picture'),
      h('div', { class: 'settings-avatar-row' }, preview,
        h('div', { class: 'settings-avatar-actions' },
          h('p', { class: 'muted' }, 'A JPEG, PNG, GIF or WebP picture up to 5 MB. It is cut to a square from its centre. Without one, your initials are shown.'),
          h('div', { class: 'row' }, file, choose, use, cancel, remove),
          avatarError))),
    form);
}
