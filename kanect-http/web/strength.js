// A password strength estimate for the sign-up meter. The server has the final word (it refuses
// short, common, run-like and username-like passwords with `too_short` / `too_weak`); this
// mirrors those rules (with the most common of the server's 20,000 common passwords only) and
// grades the rest by length and variety.

const COMMON = new Set([
  'password', 'password1', 'password123', '12345678', '123456789', '1234567890', 'qwertyuiop',
  'qwerty123', 'iloveyou', '11111111', '00000000', 'abc12345', 'letmein1', 'welcome1', 'sunshine',
  'princess', 'football', 'baseball', 'superman', 'trustno1', 'passw0rd',
]);

const LABELS = ['Too weak', 'Weak', 'Fair', 'Good', 'Strong'];

/** As the server's `PASSWORD_MIN_FRESH_CHARS`: characters that neither repeat the one before nor
 * step one up or down from it (so `aaaa`, `1234` and `dcba` count one each). */
const MIN_FRESH_CHARS = 5;

function freshChars(chars) {
  let fresh = 0;
  chars.forEach((c, i) => {
    if (i === 0 || Math.abs(c.codePointAt(0) - chars[i - 1].codePointAt(0)) > 1) fresh++;
  });
  return fresh;
}

/** `{score: 0-4, label, weak}`; `weak` means the server would refuse it. */
export function passwordStrength(password, username = '') {
  const chars = [...password];
  const lower = password.toLowerCase();
  const weak = chars.length < 8
    || COMMON.has(lower.trim())
    || (username && lower === username.toLowerCase())
    || freshChars([...lower]) < MIN_FRESH_CHARS;
  if (weak) return { score: 0, label: chars.length < 8 ? 'Too short' : LABELS[0], weak: true };
  let classes = 0;
  if (/[a-z]/.test(password)) classes++;
  if (/[A-Z]/.test(password)) classes++;
  if (/[0-9]/.test(password)) classes++;
  if (/[^A-Za-z0-9]/.test(password)) classes++;
  const unique = new Set(chars).size;
  let score = 1;
  if (chars.length >= 10 && unique >= 6) score++;
  if (chars.length >= 14 || (chars.length >= 10 && classes >= 3)) score++;
  if (chars.length >= 18 || (chars.length >= 12 && classes >= 3 && unique >= 9)) score++;
  score = Math.min(4, score);
  return { score, label: LABELS[score], weak: false };
}
