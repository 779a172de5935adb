// The unread count on the tab's icon: the app's favicon with a red badge drawn over it (the
// tab title carries the same count as text). Drawn on a canvas and set as a data: URL, which
// the page's Content-Security-Policy allows for images; back to the plain icon at zero.

const PLAIN = '/favicon.svg';
let shown = null;
let image = null;

function link() {
  let el = document.querySelector('link[rel="icon"]');
  if (!el) {
    el = document.createElement('link');
    el.rel = 'icon';
    document.head.append(el);
  }
  return el;
}

function loaded() {
  if (image) return image;
  image = new Promise((resolve) => {
    const img = new Image();
    img.onload = () => resolve(img);
    img.onerror = () => resolve(null);
    img.src = PLAIN;
  });
  return image;
}

/** Shows `count` (0: none; past 99: "99+") on the favicon. */
export async function setBadge(count) {
  const text = count > 99 ? '99+' : count > 0 ? String(count) : '';
  if (text === shown) return;
  shown = text;
  const el = link();
  if (!text) {
    el.href = PLAIN;
    el.removeAttribute('data-badge');
    return;
  }
  const img = await loaded();
  if (shown !== text) return; // changed while the icon loaded
  const size = 64;
  const canvas = document.createElement('canvas');
  canvas.width = size;
  canvas.height = size;
  const g = canvas.getContext('2d');
  if (img) g.drawImage(img, 0, 0, size, size);
  const r = text.length > 2 ? 22 : 19;
  g.fillStyle = '#e5484d';
  g.beginPath();
  g.arc(size - r, r, r, 0, Math.PI * 2);
  g.fill();
  g.fillStyle = '#fff';
  g.font = `bold ${text.length > 2 ? 20 : 28}px sans-serif`;
  g.textAlign = 'center';
  g.textBaseline = 'middle';
  g.fillText(text, size - r, r + 1);
  el.href = canvas.toDataURL('image/png');
  el.setAttribute('data-badge', text);
}
