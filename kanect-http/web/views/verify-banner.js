// The banner over the chat when the account's address is not confirmed and the server asks
// for it: what to do (open the mailed link), a button that mails it again, and the way to the
// e-mail settings. Shown only where the server verifies addresses (`GET /email`).

import { mailFeatures, request } from '../api.js';
import { h, toast } from '../dom.js';
import { state } from '../state.js';

/** Puts the banner at the top of the shell `shellEl` if the account needs it. */
export async function mountVerifyBanner(shellEl) {
  const me = state.me;
  if (!me || me.email_verified || !me.email) return;
  const { verification } = await mailFeatures();
  if (verification === 'off' || !shellEl.isConnected || shellEl.querySelector('.verify-banner')) return;
  const required = verification === 'required';
  const resend = h('button', { type: 'button', class: 'btn btn-small', 'data-action': 'resend' }, 'Send the link again');
  resend.addEventListener('click', async () => {
    resend.disabled = true;
    try {
      await request('POST', '/email/verify/resend');
      toast(`Sent to ${me.email}.`);
    } catch (err) {
      toast(err.code === 'rate_limited' ? 'A link was sent a moment ago: check your inbox.' : err.message, 'error');
    } finally {
      resend.disabled = false;
    }
  });
  const text = required
    ? `Confirm your address to start chatting: open the link we mailed to ${me.email}.`
    : `Confirm your address: open the link we mailed to ${me.email}.`;
  const banner = h('div', { class: 'verify-banner', role: 'status', 'data-required': String(required) },
    h('span', {}, text), resend, h('a', { href: '#/settings/email' }, 'E-mail settings'));
  shellEl.prepend(banner);
  shellEl.classList.add('with-banner');
}
