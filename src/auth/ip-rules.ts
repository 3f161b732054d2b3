/**
 * IP allow lists (seed 001): `ALLOWED_IPS` for everyone, and a key's own `allowed_ips`. Entries are
 * addresses or CIDR ranges, IPv4 or IPv6, or `*`. Matching goes through ipaddr.js, so an
 * IPv4-mapped IPv6 address (`::ffff:10.0.0.1`, what a dual-stack socket reports) matches its IPv4
 * range, and no address is compared as a string.
 */
import ipaddr from 'ipaddr.js';

type Range = [ipaddr.IPv4 | ipaddr.IPv6, number];

export class IpAllowList {
  private readonly ranges: Range[];
  readonly allowsAll: boolean;

  /** `entries` must be valid (configuration and key registration validate them). */
  constructor(entries: readonly string[]) {
    this.allowsAll = entries.length === 0 || entries.includes('*');
    this.ranges = this.allowsAll ? [] : entries.map(toRange);
  }

  allows(ip: string): boolean {
    if (this.allowsAll) return true;
    if (!isIpAddress(ip)) return false;
    const address = ipaddr.process(ip);
    return this.ranges.some(([range, bits]) => range.kind() === address.kind() && address.match(range, bits));
  }
}

/**
 * Strict: ipaddr.js alone accepts shorthand such as `10.0.0` (read as 10.0.0.0), which no operator
 * means in an allow list, so IPv4 must have four decimal parts.
 */
export function isIpAddress(text: string): boolean {
  if (text.includes(':')) return ipaddr.IPv6.isValid(text);
  return ipaddr.IPv4.isValidFourPartDecimal(text);
}

/** An address or a CIDR range, as accepted in ALLOWED_IPS, TRUSTED_PROXIES and a key's allowed_ips. */
export function isIpOrCidr(text: string): boolean {
  const slash = text.indexOf('/');
  if (slash === -1) return isIpAddress(text);
  const bits = text.slice(slash + 1);
  return isIpAddress(text.slice(0, slash)) && /^\d{1,3}$/.test(bits) && ipaddr.isValidCIDR(text);
}

/** The canonical text of an address: IPv4-mapped IPv6 becomes plain IPv4, so logs and limits see one form. */
const normalized = new Map<string, string>();
/** Distinct peer addresses remembered at most; past it the memory starts over (no unbounded growth). */
const NORMALIZED_MAX = 4096;

/** Called for every request (the peer address): parsing and printing it again each time showed in profiles. */
export function normalizeIp(ip: string): string {
  const known = normalized.get(ip);
  if (known !== undefined) return known;
  let out: string;
  try {
    out = ipaddr.process(ip).toString();
  } catch {
    out = ip;
  }
  if (normalized.size >= NORMALIZED_MAX) normalized.clear();
  normalized.set(ip, out);
  return out;
}

function toRange(entry: string): Range {
  if (entry.includes('/')) {
    const [address, bits] = ipaddr.parseCIDR(entry);
    // A mapped range (`::ffff:10.0.0.0/104`) is the IPv4 range it stands for.
    if (address.kind() === 'ipv6' && (address as ipaddr.IPv6).isIPv4MappedAddress() && bits >= 96) {
      return [(address as ipaddr.IPv6).toIPv4Address(), bits - 96];
    }
    return [address, bits];
  }
  const address = ipaddr.process(entry);
  return [address, address.kind() === 'ipv4' ? 32 : 128];
}
