// The admin page of invites (`#/admin/invites`): make one (views/invites.js's form), and every
// invite on the server, newest first, with its maker, uses left and expiry, each revocable.

import { h, replace } from '../dom.js';
import { inviteForm, inviteRow } from './invites.js';
import { adminApi, failure, loadMore, pageHead, userLabel } from './admin-common.js';

/** The invites page into `main`; `denied(err)` shows the "not allowed" page for `admin_only`. */
export function renderInvites(main, denied) {
  const list = h('div', { class: 'invite-list admin-table', role: 'list', 'data-admin': 'invites' });
  const row = (invite) => inviteRow(invite, {
    maker: userLabel(invite.created_by),
    onRevoked: () => {
      if (!list.children.length) replace(list, emptyLine());
    },
  });
  const more = loadMore(async (before) => {
    const { invites, next } = await adminApi.invites({ before });
    list.append(...invites.map(row));
    return next;
  });
  const load = async () => {
    try {
      const { invites, next } = await adminApi.invites({});
      replace(list, invites.length ? invites.map(row) : emptyLine());
      more.reset(next);
    } catch (err) {
      if (!denied(err)) replace(list, failure(err));
    }
  };
  replace(main,
    pageHead('Invites', 'Links that let people create an account while sign-ups are invite-only. A link is shown once, when made.'),
    h('section', { class: 'admin-card' }, inviteForm(load)),
    h('h3', { class: 'invite-list-head' }, 'All invites'),
    list, more.el);
  load();
}

function emptyLine() {
  return h('p', { class: 'list-empty' }, 'No invites yet.');
}
