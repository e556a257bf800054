/**
 * Webhook targets of the action outbox (issue 20; src/outbox/): where actions are delivered. They
 * come from one configuration value, WEBHOOKS, a JSON array, so that a URL (which holds colons and
 * may hold commas) needs no escaping rule of its own. loadConfig validates it with
 * `webhookProblems`, so a bad target stops start-up instead of losing deliveries later.
 */

export interface WebhookTarget {
  /** Short name, unique: it names the target in the outbox, the API and the metrics. */
  name: string;
  /** Where actions are POSTed (http or https). */
  url: string;
  /** The action codes this target receives; `*` alone receives every code. */
  codes: string[];
  /** Signs each body with HMAC-SHA256 (header X-Dispatchd-Signature); never logged or shown. */
  secret: string;
}

/** Target names: short, URL- and label-safe (they appear in metrics labels and API paths). */
export const WEBHOOK_NAME = /^[a-z0-9][a-z0-9-]{0,39}$/;
/** Action codes as the action registry spells them (CORE_RETURN_TASK), or `*`. */
export const ACTION_CODE = /^[A-Z][A-Z0-9_]{0,63}$/;
/** Secrets: long enough to be high-entropy, printable, no whitespace. */
const SECRET = /^[\x21-\x7e]{32,256}$/;

/** Parses WEBHOOKS ('' = none); loadConfig has validated it with webhookProblems first. */
export function parseWebhooks(raw: string): WebhookTarget[] {
  if (raw.trim() === '') return [];
  return (JSON.parse(raw) as WebhookTarget[]).map((t) => ({ name: t.name, url: t.url, codes: [...t.codes], secret: t.secret }));
}

/** What is wrong with WEBHOOKS, one sentence per problem; a secret is never echoed. */
export function webhookProblems(raw: string): string[] {
  if (raw.trim() === '') return [];
  let list: unknown;
  try {
    list = JSON.parse(raw);
  } catch {
    return ['WEBHOOKS is not valid JSON (expected [{"name","url","codes":[…],"secret"}, …])'];
  }
  if (!Array.isArray(list)) return ['WEBHOOKS must be a JSON array of targets'];
  const problems: string[] = [];
  const seen = new Set<string>();
  list.forEach((t: unknown, i) => {
    const at = `WEBHOOKS[${i}]`;
    if (typeof t !== 'object' || t === null || Array.isArray(t)) {
      problems.push(`${at} is not an object`);
      return;
    }
    const o = t as Record<string, unknown>;
    const extra = Object.keys(o).filter((k) => !['name', 'url', 'codes', 'secret'].includes(k));
    if (extra.length > 0) problems.push(`${at} has unknown fields ${JSON.stringify(extra)} (known: name, url, codes, secret)`);
    const name = typeof o.name === 'string' ? o.name : '';
    if (!WEBHOOK_NAME.test(name)) problems.push(`${at}.name must match ${WEBHOOK_NAME.source}`);
    else if (seen.has(name)) problems.push(`${at}.name "${name}" appears twice`);
    seen.add(name);
    let url: URL | undefined;
    try {
      url = typeof o.url === 'string' ? new URL(o.url) : undefined;
    } catch {
      url = undefined;
    }
    if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) problems.push(`${at}.url must be an http(s) URL`);
    else if (url.username !== '' || url.password !== '') problems.push(`${at}.url must not carry credentials (the secret signs the body instead)`);
    const codes = o.codes;
    if (!Array.isArray(codes) || codes.length === 0) problems.push(`${at}.codes must be a non-empty array of action codes (or ["*"])`);
    else {
      const bad = codes.filter((c) => typeof c !== 'string' || (c !== '*' && !ACTION_CODE.test(c)));
      if (bad.length > 0) problems.push(`${at}.codes has invalid codes ${JSON.stringify(bad)} (A-Z, 0-9 and _, starting with a letter; or "*")`);
      if (codes.includes('*') && codes.length > 1) problems.push(`${at}.codes: "*" receives every code and stands alone`);
      if (new Set(codes).size !== codes.length) problems.push(`${at}.codes lists a code twice`);
    }
    if (typeof o.secret !== 'string' || !SECRET.test(o.secret)) problems.push(`${at}.secret must be 32-256 printable characters without spaces (e.g. openssl rand -hex 32)`);
  });
  return problems;
}

/** Whether a target receives an action code. */
export function receives(target: WebhookTarget, code: string): boolean {
  return target.codes.includes('*') || target.codes.includes(code);
}
