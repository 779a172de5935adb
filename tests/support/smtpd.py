"""The SMTP server of the mail tests (see smtp.rs): aiosmtpd delivering into a Maildir.

    smtpd.py PORT MAILDIR plain
    smtpd.py PORT MAILDIR starttls|smtps CERT KEY USER PASSWORD AUTH_LOG

PORT 0 binds a free port. The port bound is printed on stdout, one line, once it listens.

plain: no TLS, no authentication (also: a server that does not offer STARTTLS).
starttls: STARTTLS offered and required before anything else; AUTH only after it.
smtps: TLS from the first byte.
With TLS, a mail is taken only from a client that logged in as USER with PASSWORD; every
attempt to log in is appended to AUTH_LOG as a line `OK|REFUSED <login> <password>`, so that
a test sees what reached the server.
"""

import asyncio
import logging
import ssl
import sys
import warnings

from aiosmtpd.handlers import Mailbox
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


def main():
    port, maildir, mode = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    options = {}
    server_ssl = None
    if mode != "plain":
        cert, key, user, password, auth_log = sys.argv[4:9]
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)

        def authenticator(server, session, envelope, mechanism, data):
            ok = isinstance(data, LoginPassword) and data.login.decode() == user and data.password.decode() == password
            login = data.login.decode() if isinstance(data, LoginPassword) else "-"
            secret = data.password.decode() if isinstance(data, LoginPassword) else "-"
            with open(auth_log, "a") as log:
                log.write(f"{'OK' if ok else 'REFUSED'} {login} {secret}\n")
            # handled=False: aiosmtpd answers itself (235, or 535 for a refusal).
            return AuthResult(success=ok, handled=False)

        options = dict(authenticator=authenticator, auth_required=True)
        if mode == "starttls":
            options.update(tls_context=context, require_starttls=True, auth_require_tls=True)
        elif mode == "smtps":
            # TLS from the first byte: aiosmtpd only knows STARTTLS as "TLS" for AUTH, and warns
            # (twice) that AUTH without it is unsafe, which here it is not.
            options.update(auth_require_tls=False)
            warnings.filterwarnings("ignore", message="Requiring AUTH while not requiring TLS")
            server_ssl = context
        else:
            sys.exit(f"unknown mode {mode}")
    # The tests judge by what was delivered and who logged in; aiosmtpd's own log (a client
    # that gave up on an untrusted certificate, with a traceback) would only be noise.
    logging.getLogger("mail.log").setLevel(logging.CRITICAL)
    handler = Mailbox(maildir)

    async def serve():
        loop = asyncio.get_running_loop()
        server = await loop.create_server(
            lambda: SMTP(handler, hostname="localhost", **options), "127.0.0.1", port, ssl=server_ssl
        )
        # The port it bound (port 0: a free one), for the test that started it.
        print(server.sockets[0].getsockname()[1], flush=True)
        async with server:
            await server.serve_forever()

    asyncio.run(serve())


if __name__ == "__main__":
    main()
