/**
 * The attack mix of the soak (issue 10's list), each a lane of requests kept in flight until the
 * attack phase ends. Every request has its own timeout and every answer is read and thrown away as
 * it streams in (never buffered), so the harness's own memory stays flat while the server is asked
 * for 30 million rows. A refused connection is retried after a pause, not in a tight loop.
 */
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { COLLECTION } from './protocol.js';

export const LANES = ['huge', 'deep', 'join', 'in', 'wide', 'slow', 'badkey'] as const;
export type Lane = (typeof LANES)[number];

export const LANE_DESCRIPTIONS: Record<Lane, string> = {
  huge: "POST /api/query SELECT * FROM range(30000000), the attacker's read key",
  deep: "POST /api/query with a 600 KB SELECT [1,1,…], the attacker's read key",
  join: "POST /api/query, a 200-way join of range(2), the attacker's read key",
  in: "POST /api/find/bench_items with a 30,000-value In filter, the attacker's read key",
  wide: 'POST /api/insert/soak_wide with 3,000 new fields per record, a write key',
  slow: "slowloris: half send headers 1 byte every 2 s, half a body (POST /api/find/bench_items, the attacker's read key) 1 byte every 2 s",
  badkey: 'GET /api/find/bench_items/:id with a fresh well-formed unknown key each time',
};

export interface AttackKeys {
  /** An ordinary scoped key: read on `bench_items`. */
  reader: string;
  /** Read and write on `soak_wide`. */
  writer: string;
}

export interface AttackOptions {
  url: string;
  keys: AttackKeys;
  lanes: readonly Lane[];
  /** Requests each HTTP lane keeps in flight. */
  concurrency: Partial<Record<Lane, number>>;
  /** Slow-body connections kept open. */
  slowConnections: number;
  /** Harness-side timeout per request (longer than the server's own deadline, so its 408s are seen). */
  timeoutMs: number;
}

export interface LaneFigures {
  lane: Lane;
  requests: number;
  /** Answers by status, plus `timeout` (ours) and `network` (refused, reset). */
  outcomes: Record<string, number>;
  /** Response bytes read (and thrown away). */
  bytes: number;
}

export interface SlowFigures {
  opened: number;
  /** Closed by the server (cut off, refused at the connection cap, or answered). */
  closedByServer: number;
  /** First status line of what the server answered, by kind and status (`headers:408`); `none` when it closed without one. */
  answers: Record<string, number>;
  /** Most open (or connecting) at once, seen from this side. */
  peakOpen: number;
  /** Connection attempts that failed (refused, reset before connect). */
  failed: number;
}

export interface AttackFigures {
  lanes: LaneFigures[];
  slow?: SlowFigures;
}

class Tally {
  requests = 0;
  bytes = 0;
  readonly outcomes: Record<string, number> = {};

  count(outcome: string): void {
    this.outcomes[outcome] = (this.outcomes[outcome] ?? 0) + 1;
  }
}

/** Starts every lane; `stop` ends them (in-flight requests are aborted) and answers the figures. */
export function startAttacks(options: AttackOptions): { stop: () => Promise<AttackFigures> } {
  const stopping = new AbortController();
  const tallies = new Map<Lane, Tally>();
  const loops: Promise<void>[] = [];
  let slow: SlowConnections | undefined;
  for (const lane of options.lanes) {
    if (lane === 'slow') {
      slow = new SlowConnections(options.url, options.keys.reader, options.slowConnections);
      continue;
    }
    const tally = new Tally();
    tallies.set(lane, tally);
    const next = requestMaker(lane, options);
    for (let i = 0; i < (options.concurrency[lane] ?? DEFAULT_CONCURRENCY[lane]); i++) {
      loops.push(attackLoop(options.url, next, tally, options.timeoutMs, stopping.signal));
    }
  }
  return {
    async stop() {
      stopping.abort();
      const slowFigures = slow?.stop();
      await Promise.allSettled(loops);
      return {
        lanes: [...tallies].map(([lane, tally]) => ({ lane, requests: tally.requests, outcomes: tally.outcomes, bytes: tally.bytes })),
        ...(slowFigures ? { slow: slowFigures } : {}),
      };
    },
  };
}

const DEFAULT_CONCURRENCY: Record<Lane, number> = { huge: 1, deep: 1, join: 1, in: 2, wide: 1, slow: 0, badkey: 8 };

interface Attack {
  method: 'GET' | 'POST';
  path: string;
  key: string;
  body?: string;
}

function requestMaker(lane: Exclude<Lane, 'slow'>, options: AttackOptions): () => Attack {
  const query = (sql: string): Attack => ({ method: 'POST', path: '/api/query', key: options.keys.reader, body: JSON.stringify({ sql }) });
  switch (lane) {
    case 'huge': {
      const attack = query('SELECT * FROM range(30000000)');
      return () => attack;
    }
    case 'deep': {
      const attack = query(`SELECT [${'1,'.repeat(300_000)}1] AS a`);
      return () => attack;
    }
    case 'join': {
      const tables = Array.from({ length: 200 }, (_, i) => `range(2) AS t${i}`).join(', ');
      const attack = query(`SELECT count(*) AS n FROM ${tables}`);
      return () => attack;
    }
    case 'in': {
      const values = Array.from({ length: 30_000 }, (_, i) => `item ${i * 3}`);
      const body = JSON.stringify({ filter: { type: 'Condition', content: { field: 'name', operator: 'In', value: values } } });
      const attack: Attack = { method: 'POST', path: `/api/find/${COLLECTION}`, key: options.keys.reader, body };
      return () => attack;
    }
    case 'wide': {
      let round = 0;
      return () => {
        // New names every time: each record asks for 3,000 more columns.
        const record: Record<string, number> = {};
        round++;
        for (let i = 0; i < 3000; i++) record[`f${round}_${i}`] = i;
        return { method: 'POST', path: '/api/insert/soak_wide', key: options.keys.writer, body: JSON.stringify(record) };
      };
    }
    case 'badkey':
      return () => ({ method: 'GET', path: `/api/find/${COLLECTION}/item-1`, key: `dk_live_${randomBytes(24).toString('base64url')}` });
  }
}

async function attackLoop(url: string, next: () => Attack, tally: Tally, timeoutMs: number, stopping: AbortSignal): Promise<void> {
  while (!stopping.aborted) {
    const attack = next();
    tally.requests++;
    try {
      const res = await fetch(`${url}${attack.path}`, {
        method: attack.method,
        headers: { 'x-api-key': attack.key, ...(attack.body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: attack.body,
        signal: AbortSignal.any([stopping, AbortSignal.timeout(timeoutMs)]),
      });
      if (res.body) {
        // Streamed and dropped: a 30-million-row answer must not live in the harness's memory.
        for await (const chunk of res.body) tally.bytes += (chunk as Uint8Array).byteLength;
      }
      tally.count(String(res.status));
    } catch (error) {
      if (stopping.aborted) {
        tally.count('stopped');
        return;
      }
      const name = error instanceof Error ? error.name : '';
      tally.count(name === 'TimeoutError' ? 'timeout' : 'network');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

/**
 * Slowloris, two kinds taking turns: connections that send their headers one byte every 2 s (never
 * finishing them), and connections that send complete headers (a valid key, a body of 1 MB
 * announced) and then one body byte every 2 s. Each one the server closes is replaced, so the
 * pressure holds for the whole phase. Opened in steps (up to 250 every 50 ms), not all in one tick.
 */
class SlowConnections {
  private readonly sockets = new Set<net.Socket>();
  /** Those whose headers are out: only they get body bytes (a byte before the headers would be a malformed request, not a slow one). */
  private readonly sending = new Map<net.Socket, string>();
  private readonly figures: SlowFigures = { opened: 0, closedByServer: 0, answers: {}, peakOpen: 0, failed: 0 };
  private readonly trickle: NodeJS.Timeout;
  private readonly opener: NodeJS.Timeout;
  private stopped = false;
  private readonly host: string;
  private readonly port: number;
  private readonly heads: Record<'headers' | 'body', string>;

  constructor(url: string, key: string, private readonly target: number) {
    const parsed = new URL(url);
    this.host = parsed.hostname;
    this.port = Number(parsed.port);
    this.heads = {
      // Then `a` after `a` in a header value that never ends.
      headers: `GET /api/find/${COLLECTION}/item-1 HTTP/1.1\r\nHost: ${parsed.host}\r\nx-api-key: ${key}\r\nx-slow: `,
      // Then ` ` after ` ` in a body that never ends.
      body: `POST /api/find/${COLLECTION} HTTP/1.1\r\nHost: ${parsed.host}\r\nx-api-key: ${key}\r\n`
        + 'Content-Type: application/json\r\nContent-Length: 1000000\r\n\r\n{"filter":',
    };
    // Every 100 ms a twentieth of the sockets get a byte: each one every 2 s.
    let turn = 0;
    this.trickle = setInterval(() => {
      turn = (turn + 1) % 20;
      let i = 0;
      for (const [socket, byte] of this.sending) {
        if (i++ % 20 === turn && socket.writable) socket.write(byte);
      }
    }, 100);
    // Up to 250 new connections every 50 ms until the target is open.
    this.opener = setInterval(() => {
      for (let i = 0; i < 250 && this.sockets.size < this.target && !this.stopped; i++) this.open();
    }, 50);
  }

  stop(): SlowFigures {
    this.stopped = true;
    clearInterval(this.trickle);
    clearInterval(this.opener);
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    this.sending.clear();
    return this.figures;
  }

  private open(): void {
    const kind = this.figures.opened % 2 === 0 ? 'headers' : 'body';
    const socket = net.connect(this.port, this.host);
    this.sockets.add(socket);
    this.figures.opened++;
    this.figures.peakOpen = Math.max(this.figures.peakOpen, this.sockets.size);
    let answer = '';
    let connected = false;
    socket.setNoDelay(true);
    socket.on('connect', () => {
      connected = true;
      socket.write(this.heads[kind]);
      this.sending.set(socket, kind === 'headers' ? 'a' : ' ');
    });
    socket.on('data', (chunk: Buffer) => {
      if (answer.length < 64) answer += chunk.toString('latin1', 0, 64);
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      this.sockets.delete(socket);
      this.sending.delete(socket);
      if (this.stopped) return;
      if (!connected) this.figures.failed++;
      else {
        this.figures.closedByServer++;
        const status = `${kind}:${/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1] ?? 'none'}`;
        this.figures.answers[status] = (this.figures.answers[status] ?? 0) + 1;
      }
    });
  }
}
