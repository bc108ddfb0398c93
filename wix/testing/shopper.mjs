// A shopper without a browser: loads pages with fetch, follows redirects by
// hand, reads the HTML forms (the relay's self-posting page, the banks'
// card and 3-D challenge pages, their auto-posting callbacks) and submits
// them with the test card filled in — until it is sent to the site's
// return URL. No JavaScript runs, so every page must work without it, as
// the relay's and the simulators' pages do.

export const CHALLENGE_CODE = '123456';

export function testCard(pan) {
  return { pan, month: '12', year: '2030', cvv: '000', holder: 'Test Shopper', code: CHALLENGE_CODE };
}

// fieldValue fills a form field the way a shopper would, for the relay's
// card page and the simulators' pages alike (names as in e2e's card).
export function fieldValue(card, name) {
  switch (name.toLowerCase()) {
    case 'number': case 'pan': case 'cardnumber':
      return card.pan;
    case 'exp_month': case 'ecom_payment_card_expdate_month': case 'expiremonth': case 'month': case 'expmonth':
      return card.month;
    case 'exp_year': case 'expyear': case 'year': case 'expireyear':
      return card.year;
    case 'ecom_payment_card_expdate_year':
      return card.year.slice(2);
    case 'expiry':
      return card.month + card.year.slice(2);
    case 'cvv': case 'cv2': case 'cvv2': case 'cvc':
      return card.cvv;
    case 'holder': case 'cardholdername': case 'cardholdersname': case 'name':
      return card.holder;
    case 'code': case 'otp': case 'password': case 'smscode':
      return card.code;
    default:
      return undefined;
  }
}

const ENTITIES = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: '\u00a0' };

export function decodeEntities(s) {
  return s.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (m, e) => {
    if (e[0] === '#') {
      const cp = e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
      return Number.isFinite(cp) ? String.fromCodePoint(cp) : m;
    }
    const v = ENTITIES[e.toLowerCase()];
    return v === undefined ? m : v;
  });
}

function attrs(s) {
  const out = {};
  const re = /([^\s=/>"']+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>"']+)))?/g;
  let m;
  while ((m = re.exec(s))) {
    const v = m[2] !== undefined ? m[2] : m[3] !== undefined ? m[3] : m[4] !== undefined ? m[4] : '';
    out[m[1].toLowerCase()] = decodeEntities(v);
  }
  return out;
}

// parseForms returns the page's forms: {id, action (absolute), method,
// fields: [[name, value]…] as a browser would submit them, submit: the
// first submit button's [name, value] or null}.
export function parseForms(html, pageURL) {
  let base = pageURL;
  const b = /<base\b([^>]*)>/i.exec(html);
  if (b) {
    const href = attrs(b[1]).href;
    if (href) base = new URL(href, pageURL).href;
  }
  const forms = [];
  const formRe = /<form\b([^>]*)>([\s\S]*?)<\/form\s*>/gi;
  let fm;
  while ((fm = formRe.exec(html))) {
    const a = attrs(fm[1]);
    const form = {
      id: a.id || '',
      action: new URL(a.action || '', base).href,
      method: (a.method || 'get').toUpperCase(),
      fields: [],
      submit: null,
      charset: a['accept-charset'] ? normCharset(a['accept-charset'].split(/[\s,]+/)[0]) : '',
    };
    const tagRe = /<(\/?)(input|select|option|textarea|button)\b([^>]*)>([^<]*)/gi;
    let select = null;
    let tm;
    while ((tm = tagRe.exec(fm[2]))) {
      const closing = tm[1] === '/';
      const tag = tm[2].toLowerCase();
      const ta = attrs(tm[3]);
      if (tag === 'select') {
        if (closing) {
          if (select && select.name) form.fields.push([select.name, select.chosen !== null ? select.chosen : select.first || '']);
          select = null;
        } else {
          select = { name: ta.name || '', first: null, chosen: null };
        }
        continue;
      }
      if (closing) continue;
      if (tag === 'option' && select) {
        const v = 'value' in ta ? ta.value : decodeEntities(tm[4]).trim();
        if (select.first === null) select.first = v;
        if ('selected' in ta && select.chosen === null) select.chosen = v;
      } else if (tag === 'input' && ta.name) {
        const type = (ta.type || 'text').toLowerCase();
        if (type === 'submit' || type === 'image') {
          if (!form.submit) form.submit = [ta.name, ta.value || ''];
        } else if (type === 'button' || type === 'reset' || type === 'file') {
          // not submitted
        } else if ((type === 'checkbox' || type === 'radio') && !('checked' in ta)) {
          // unchecked: not submitted
        } else {
          form.fields.push([ta.name, ta.value || '']);
        }
      } else if (tag === 'textarea' && ta.name) {
        form.fields.push([ta.name, decodeEntities(tm[4])]);
      } else if (tag === 'button') {
        const type = (ta.type || 'submit').toLowerCase();
        if (type === 'submit' && !form.submit) form.submit = ta.name ? [ta.name, ta.value || ''] : ['', ''];
      }
    }
    forms.push(form);
  }
  return forms;
}

function normCharset(cs) {
  const c = String(cs || '').trim().toLowerCase();
  return c === 'utf8' ? 'utf-8' : c;
}

// decodePage reads a page in its charset (header, else <meta charset>).
// Pages that are not UTF-8 (the EST callbacks are ISO-8859-9) are read as
// Latin-1, which keeps each byte as one character, so that the form posts
// back exactly the bytes the bank sent — its hash covers them.
export function decodePage(buf, contentType) {
  let cs = /charset=([^;\s]+)/i.exec(contentType || '');
  if (!cs) cs = /<meta[^>]+charset=["']?([^"'\s/>]+)/i.exec(buf.subarray(0, 2048).toString('latin1'));
  const charset = normCharset(cs ? cs[1] : 'utf-8');
  return { text: buf.toString(charset === 'utf-8' ? 'utf8' : 'latin1'), charset };
}

// encodeForm writes application/x-www-form-urlencoded in a charset: UTF-8,
// or one byte per character (see decodePage).
export function encodeForm(pairs, charset) {
  const bytes = (s) => Buffer.from(s, normCharset(charset) === 'utf-8' ? 'utf8' : 'latin1');
  const enc = (s) => {
    let out = '';
    for (const b of bytes(s)) {
      if (b === 0x20) out += '+';
      else if ((b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || b === 0x2a || b === 0x2d || b === 0x2e || b === 0x5f) out += String.fromCharCode(b);
      else out += '%' + b.toString(16).toUpperCase().padStart(2, '0');
    }
    return out;
  };
  return pairs.map(([k, v]) => `${enc(k)}=${enc(v)}`).join('&');
}

// walk follows the shopper's pages from url with the card until a redirect
// (or a form) leads to a URL that starts with stopAt. It returns {landed,
// history} or throws with the history when it ends anywhere else.
export async function walk(url, card, stopAt, { maxSteps = 25, timeoutMs = 15000 } = {}) {
  const history = [];
  const deadline = Date.now() + timeoutMs;
  let req = { method: 'GET', url, body: undefined };
  for (let step = 0; step < maxSteps; step++) {
    if (req.url.startsWith(stopAt)) return { landed: req.url, history };
    if (Date.now() > deadline) break;
    history.push(`${req.method} ${req.url}`);
    const headers = { 'Sec-Fetch-Dest': 'document', 'User-Agent': 'posrelay-kit-test-shopper' };
    if (req.body !== undefined) headers['Content-Type'] = 'application/x-www-form-urlencoded';
    const res = await fetch(req.url, {
      method: req.method, headers, body: req.body, redirect: 'manual',
      signal: AbortSignal.timeout(Math.max(1, deadline - Date.now())),
    });
    const { text, charset } = decodePage(Buffer.from(await res.arrayBuffer()), res.headers.get('content-type'));
    if (res.status >= 300 && res.status < 400) {
      const loc = res.headers.get('location');
      if (!loc) throw new Error(`redirect without Location from ${req.url}\n${history.join('\n')}`);
      const next = new URL(loc, req.url).href;
      const keep = res.status === 307 || res.status === 308;
      req = keep ? { method: req.method, url: next, body: req.body } : { method: 'GET', url: next, body: undefined };
      continue;
    }
    const form = parseForms(text, req.url).find((f) => !/\/cancel$/.test(new URL(f.action).pathname));
    if (!form) {
      throw new Error(`no form to go on with on ${req.url} (status ${res.status})\nhistory:\n${history.join('\n')}\n${text.slice(0, 600)}`);
    }
    const pairs = [];
    for (const [name, value] of form.fields) {
      const v = fieldValue(card, name);
      pairs.push([name, v !== undefined && (value === '' || name.toLowerCase() === 'exp_year') ? v : value]);
    }
    if (form.submit && form.submit[0]) pairs.push(form.submit);
    // A browser encodes the form in the form's accept-charset, else the page's.
    const encoded = encodeForm(pairs, form.charset || charset);
    if (form.method === 'GET') {
      const u = new URL(form.action);
      u.search = encoded;
      req = { method: 'GET', url: u.href, body: undefined };
    } else {
      req = { method: 'POST', url: form.action, body: encoded };
    }
  }
  throw new Error(`the shopper did not reach ${stopAt} in ${maxSteps} steps / ${timeoutMs} ms\nhistory:\n${history.join('\n')}`);
}
