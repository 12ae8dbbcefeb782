/**
 * RP ID validation (WebAuthn L3 §5.1.3 / §5.1.4 step "rp.id"): may `origin` use credentials
 * scoped to `rpId`? Compared to python-fido2's `verify_rp_id` this also rejects IP-literal
 * suffix matches, port or path smuggled into the RP ID, and compares internationalised
 * names in their ASCII (punycode) form. The public suffix list (ICANN and private sections,
 * as python-fido2 bundles it) comes from `tldts`.
 * @module
 */
import { parse } from "tldts";

const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;
const ASCII = /^[\x21-\x7e]*$/;

function isIpLiteral(host: string): boolean {
  return host.startsWith("[") || IPV4.test(host);
}

/** The canonical host form of an RP ID, or undefined when it is not a bare host. */
function canonicalRpId(rpId: string): string | undefined {
  if (!rpId || /[\s/\\@?#%]/.test(rpId)) return undefined;
  const ipv6 = rpId.includes(":");
  if (ipv6 && !/^\[?[0-9a-fA-F:.]+\]?$/.test(rpId)) return undefined;
  const hostPart = ipv6 ? `[${rpId.replace(/^\[|\]$/g, "")}]` : rpId;
  let url: URL;
  try {
    url = new URL(`https://${hostPart}/`);
  } catch {
    return undefined;
  }
  if (url.port || url.username || url.password || url.pathname !== "/" || url.search) {
    return undefined;
  }
  const host = url.hostname;
  // An ASCII RP ID must already be canonical (lower case, dotted-decimal IPv4 ...): its
  // SHA-256 is the rpIdHash, so "Example.com" cannot stand in for "example.com".
  if (!ipv6 && ASCII.test(rpId) && host !== rpId) return undefined;
  return host;
}

/**
 * The ASCII (punycode, IDNA) form of an internationalised RP ID, as browsers send it to
 * authenticators: its SHA-256 is the rpIdHash, so "bücher.example" must travel as
 * "xn--bcher-kva.example". ASCII RP IDs, and names that are not valid hosts, are returned
 * unchanged (the RP ID check then refuses the invalid ones).
 */
export function rpIdToAscii(rpId: string): string {
  if (typeof rpId !== "string" || ASCII.test(rpId) || /[\s/\\@?#%:]/.test(rpId)) return rpId;
  try {
    const url = new URL(`https://${rpId}/`);
    if (url.port || url.username || url.pathname !== "/") return rpId;
    return url.hostname;
  } catch {
    return rpId;
  }
}

/** True when `domain` is itself a public suffix (listed in the ICANN or private section). */
export function isPublicSuffix(domain: string): boolean {
  const p = parse(domain, { allowPrivateDomains: true, extractHostname: false });
  return p.publicSuffix === domain && (p.isIcann === true || p.isPrivate === true);
}

/**
 * Whether a page at `origin` may use the RP ID `rpId`: the origin must be https (http only
 * for `localhost` and `*.localhost`), and its host must equal the RP ID or be a subdomain of
 * it where the RP ID is not a public suffix. IP-literal hosts only match exactly.
 */
export function verifyRpId(rpId: string, origin: string): boolean {
  if (typeof rpId !== "string" || typeof origin !== "string" || !rpId) return false;
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false;
  }
  const host = url.hostname;
  if (!host) return false;
  const local = host === "localhost" || host.endsWith(".localhost");
  if (url.protocol !== "https:" && !(url.protocol === "http:" && local)) return false;
  const id = canonicalRpId(rpId);
  if (id === undefined) return false;
  if (host === id) return true;
  if (isIpLiteral(host) || isIpLiteral(id)) return false;
  return host.endsWith("." + id) && !isPublicSuffix(id);
}
