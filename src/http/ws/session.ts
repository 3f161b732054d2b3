/**
 * One WebSocket connection speaking Duckling's protocol (`messages.ts`), from upgrade to close.
 *
 *   upgrade (no credential; ALLOWED_IPS already applied) → first message `auth` within
 *   WS_AUTH_TIMEOUT_MS → the database of `?db=` must exist and be visible to the principal → then
 *   `ping` and `query` messages, each re-checked and answered on its own, matched by `id`.
 *
 * Rights are never remembered: every message runs the credential through the same resolver as an
 * HTTP request (`Authenticator.resolve`, with the rate limit for a query), so a revoked key, a
 * logged-out token or a changed grant applies to the very next message. An idle socket is re-checked
 * when the control plane announces a change that concerns it (`sockets.ts`) and when its credential
 * expires, and closed 1008 once its rights are gone.
 *
 * Backpressure: at WS_MAX_IN_FLIGHT messages running, the socket stops being read (the kernel's
 * window then holds the client back); frames already read past the cap wait in a queue of
 * WS_MAX_QUEUED, past which a message is refused `too_many_in_flight`. A slot is freed only once its
 * answer is written, so a client that stops reading its answers stops being read too.
 */
import type { Readable } from 'node:stream';
import type { FastifyBaseLogger, FastifyRequest } from 'fastify';
import type { RawData, WebSocket } from 'ws';
import type { CredentialHeaders } from '../../auth/credential.js';
import { canSeeDatabase } from '../../auth/permissions.js';
import type { Principal } from '../../auth/principal.js';
import type { AuthOutcome, PrincipalResolver } from '../../auth/resolver.js';
import type { WebSocketSettings } from '../../config/index.js';
import type { DataEngine, Json } from '../../data/engine.js';
import { ApiError, errors, isApiError } from '../../errors.js';
import { databaseOf } from '../access.js';
import type { Authenticator } from '../authenticate.js';
import { isLarge, jsonSlices } from '../json-stream.js';
import type { Metrics } from '../plugins/metrics.js';
import { budgetFor, type BudgetQuery, type ResultLimits } from '../result-budget.js';
import { sqlPolicyFor } from '../scoping.js';
import { UNREADABLE_ID, elapsedSince, failure, parseMessage, type Answer, type ClientMessage, type MessageIdValue } from './messages.js';

/** Close codes (RFC 6455 §7.4.1); Duckling's SDK does not reconnect after 1008 or 1011. */
export const CLOSE = {
  /** Server shutting down. */
  goingAway: 1001,
  /** No or a refused credential, or rights withdrawn: do not retry with the same credential. */
  policy: 1008,
  /** A frame over WS_MAX_MESSAGE_BYTES (sent by `ws` itself). */
  tooBig: 1009,
  /** The database of `?db=` does not exist (or is not visible to this credential), or the server failed. */
  unknownDatabase: 1011,
} as const;

export interface SessionContext {
  authenticator: Authenticator;
  /** For re-checks of an idle socket, which are not requests: nothing is reported or counted. */
  resolver: PrincipalResolver;
  engine: DataEngine;
  limits: ResultLimits;
  settings: WebSocketSettings;
  queryTimeoutMs: number;
  maxJsonDepth: number;
  metrics: Metrics;
  log: FastifyBaseLogger;
}

interface Pending {
  text: string;
  /** `performance.now()` when the frame was read: the message's deadline counts from here. */
  arrived: number;
}

/** What answering a message produced: the frame to send, and whether the socket closes after it. */
interface Reply {
  frame: string | Readable;
  close?: { code: number; reason: string };
}

type State = 'awaiting-auth' | 'authenticating' | 'open' | 'closing' | 'closed';

/** A close reason is at most 123 bytes (RFC 6455 §5.5). */
function closeReason(text: string): string {
  return Buffer.byteLength(text) <= 123 ? text : `${Buffer.from(text).subarray(0, 120).toString().replace(/\uFFFD+$/, '')}...`;
}

function serialize(answer: Answer): string {
  return JSON.stringify(answer);
}

export class SocketSession {
  private state: State = 'awaiting-auth';
  private credential: CredentialHeaders | undefined;
  private currentPrincipal: Principal | undefined;
  private readonly database: string;
  private readonly budgetQuery: BudgetQuery;
  private inFlight = 0;
  private readonly queue: Pending[] = [];
  private paused = false;
  private authTimer: NodeJS.Timeout | undefined;
  private expiryTimer: NodeJS.Timeout | undefined;
  /** A large answer going out in fragments: nothing else may be sent until it is done. */
  private streaming: Promise<void> | undefined;
  private drained: (() => void) | undefined;
  /** Heartbeat: set by each pong, cleared by each ping (`sockets.ts`). */
  alive = true;

  constructor(
    private readonly socket: WebSocket,
    private readonly request: FastifyRequest,
    private readonly ctx: SessionContext,
    private readonly onClosed: (session: SocketSession) => void,
  ) {
    this.database = databaseOf(request.query);
    this.budgetQuery = request.query as BudgetQuery;
    socket.on('message', (data, isBinary) => this.received(data, isBinary));
    socket.on('close', () => this.closed());
    socket.on('pong', () => {
      this.alive = true;
    });
    this.authTimer = setTimeout(() => this.close(CLOSE.policy, 'Authentication timeout: the first message must be {id, type: "auth", apiKey}'), ctx.settings.authTimeoutMs);
    // Duckling's server greets every connection; its SDK ignores the answer it did not ask for.
    void this.deliver(serialize({ id: 'welcome', success: true, result: [{ message: 'Connected to duckgate WebSocket server' }] }));
  }

  /** Who the socket authenticated as, once it has. */
  get principal(): Principal | undefined {
    return this.currentPrincipal;
  }

  /**
   * Re-checks the socket's credential without a message (the control plane changed, or the
   * credential's expiry came): closes 1008 when it no longer stands for anyone who may see the
   * database. Not a request: no rate limit, nothing counted or reported.
   */
  async recheck(): Promise<void> {
    if (this.state !== 'open' || this.credential === undefined) return;
    let outcome: AuthOutcome;
    try {
      outcome = await this.ctx.resolver.resolve({ credential: this.credential, ip: this.ip, recheck: true, consume: false });
    } catch (error) {
      // The store could not answer: the next message checks again (and fails safe there).
      this.ctx.log.warn({ err: error }, 'websocket re-check failed');
      return;
    }
    if (this.state !== 'open') return;
    const refusal = this.withdrawn(outcome);
    if (refusal) {
      this.ctx.log.info({ event: 'ws.closed', code: refusal.code, keyPrefix: this.currentPrincipal?.keyPrefix ?? null, ip: this.ip }, 'websocket closed: rights withdrawn');
      this.close(CLOSE.policy, refusal.message);
      return;
    }
    if (outcome.ok) this.adopt(outcome.principal);
  }

  /** Sends a ping; `alive` comes back with the pong. */
  heartbeat(): void {
    if (!this.alive) {
      this.socket.terminate();
      return;
    }
    this.alive = false;
    this.socket.ping();
  }

  /**
   * Server shutdown: stops taking messages, lets those in flight answer (for at most `graceMs`),
   * closes 1001, and resolves once the socket is closed; a peer that does not finish the closing
   * handshake within `graceMs` more is cut off.
   */
  async shutdown(graceMs: number): Promise<void> {
    if (this.state === 'closed') return;
    const gone = new Promise<void>((resolve) => this.socket.once('close', () => resolve()));
    this.state = 'closing';
    this.queue.length = 0;
    const within = (promise: Promise<void>) => Promise.race([promise, new Promise<void>((resolve) => setTimeout(resolve, graceMs).unref())]);
    if (this.inFlight > 0) await within(new Promise<void>((resolve) => (this.drained = resolve)));
    this.close(CLOSE.goingAway, 'Server shutting down');
    await within(gone);
    if (this.socket.readyState !== this.socket.CLOSED) this.socket.terminate();
  }

  private get ip(): string {
    return this.request.clientIp ?? this.request.ip;
  }

  private received(data: RawData, isBinary: boolean): void {
    const arrived = performance.now();
    if (this.state === 'closing' || this.state === 'closed') return;
    if (isBinary) {
      void this.deliver(serialize(failure(UNREADABLE_ID, errors.badRequest('bad_request', 'Messages are JSON text frames'))));
      return;
    }
    const text = Buffer.isBuffer(data) ? data.toString() : Array.isArray(data) ? Buffer.concat(data).toString() : Buffer.from(data).toString();
    const pending = { text, arrived };
    if (this.state === 'awaiting-auth') {
      void this.authenticate(pending);
      return;
    }
    if (this.state === 'open' && this.inFlight < this.ctx.settings.maxInFlight) {
      this.start(pending);
      return;
    }
    // Already read past the cap (or while authenticating): wait in the bounded queue.
    if (this.queue.length >= this.ctx.settings.maxQueued) {
      const parsed = parseMessage(text, this.ctx.maxJsonDepth);
      const id = parsed.ok ? parsed.message.id : parsed.id;
      void this.deliver(serialize(failure(id, errors.tooManyInFlight(), elapsedSince(arrived))));
      return;
    }
    this.queue.push(pending);
    this.pause();
  }

  private start(pending: Pending): void {
    this.inFlight++;
    if (this.inFlight >= this.ctx.settings.maxInFlight) this.pause();
    void this.answer(pending)
      .then((reply) => this.send(reply))
      .finally(() => {
        this.inFlight--;
        this.drain();
      });
  }

  private drain(): void {
    if (this.state === 'closing' || this.state === 'closed') {
      if (this.inFlight === 0) this.drained?.();
      return;
    }
    if (this.state !== 'open') return;
    while (this.queue.length > 0 && this.inFlight < this.ctx.settings.maxInFlight) this.start(this.queue.shift()!);
    if (this.queue.length === 0 && this.inFlight < this.ctx.settings.maxInFlight) this.resume();
  }

  private pause(): void {
    if (this.paused) return;
    this.paused = true;
    this.socket.pause();
  }

  private resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.socket.resume();
  }

  private async authenticate({ text, arrived }: Pending): Promise<void> {
    clearTimeout(this.authTimer);
    this.state = 'authenticating';
    // A store that cannot answer leaves nothing to go on with: the socket closes 1011 (unexpected condition).
    const reply = await this.authAnswer(text, arrived).catch((error: unknown): Reply => ({
      ...this.internalError(UNREADABLE_ID, error, arrived),
      close: { code: CLOSE.unknownDatabase, reason: 'Internal server error' },
    }));
    await this.send(reply);
    // The answer may have opened the socket (or closed it) meanwhile.
    if ((this.state as State) === 'open') this.drain();
  }

  private async authAnswer(text: string, arrived: number): Promise<Reply> {
    const parsed = parseMessage(text, this.ctx.maxJsonDepth);
    if (!parsed.ok || parsed.message.type !== 'auth') {
      const id = parsed.ok ? parsed.message.id : parsed.id;
      const error = new ApiError(401, 'missing_api_key', 'Not authenticated: the first message must be {id, type: "auth", apiKey}');
      this.ctx.metrics.authFailures.inc({ code: error.code });
      return this.refuse(id, error, arrived, CLOSE.policy);
    }
    const { id, apiKey } = parsed.message;
    const credential: CredentialHeaders = { 'x-api-key': apiKey ?? '' };
    // The auth message is not a query: the rate limit meters the messages that do work.
    const outcome = await this.ctx.authenticator.resolve(this.request, undefined, credential, 'any', { consume: false });
    if (this.state !== 'authenticating') return { frame: '' };
    if (!outcome.ok) {
      this.ctx.metrics.authFailures.inc({ code: outcome.code });
      return this.refuse(id, outcome.error, arrived, CLOSE.policy);
    }
    // Decided after authentication: a database the key cannot see does not exist for it.
    if (!canSeeDatabase(outcome.principal, this.database) || !this.ctx.engine.listDatabases().includes(this.database)) {
      return this.refuse(id, errors.notFound(`Database '${this.database}' not found`), arrived, CLOSE.unknownDatabase);
    }
    this.credential = credential;
    this.adopt(outcome.principal);
    this.state = 'open';
    const { principal } = outcome;
    return {
      frame: serialize({
        id,
        success: true,
        result: [{ authenticated: true, message: 'Authentication successful', database: this.database, authMethod: principal.authMethod }],
        duration: elapsedSince(arrived),
      }),
    };
  }

  /** The principal the latest check found; its credential's end (if any) re-checks the socket then. */
  private adopt(principal: Principal): void {
    this.currentPrincipal = principal;
    clearTimeout(this.expiryTimer);
    const ends = [principal.validUntil, principal.tokenExpiresAt].filter((at): at is number => typeof at === 'number');
    if (ends.length === 0) return;
    // Timers take at most 2^31-1 ms; a later end is re-armed by the re-check that timer runs.
    const delay = Math.min(Math.max(0, Math.min(...ends) - Date.now()) + 10, 2 ** 31 - 1);
    this.expiryTimer = setTimeout(() => void this.recheck(), delay);
    this.expiryTimer.unref();
  }

  private async answer({ text, arrived }: Pending): Promise<Reply> {
    const parsed = parseMessage(text, this.ctx.maxJsonDepth);
    if (!parsed.ok) return { frame: serialize(failure(parsed.id, parsed.error, elapsedSince(arrived))) };
    const { message } = parsed;
    try {
      switch (message.type) {
        case 'auth':
          return { frame: serialize(failure(message.id, errors.badRequest('bad_request', 'Already authenticated'), elapsedSince(arrived))) };
        case 'ping': {
          const refused = await this.check(message.id, arrived, false);
          if (refused) return refused;
          return { frame: serialize({ id: message.id, success: true, result: [{ pong: true, timestamp: new Date().toISOString() }], duration: elapsedSince(arrived) }) };
        }
        case 'query': {
          const refused = await this.check(message.id, arrived, true);
          if (refused) return refused;
          return await this.query(message, arrived);
        }
      }
    } catch (error) {
      return this.internalError(message.id, error, arrived);
    }
  }

  /** The socket's rights, now: undefined when the message may go on, else the refusal to send. */
  private async check(id: MessageIdValue, arrived: number, consume: boolean): Promise<Reply | undefined> {
    const outcome = await this.ctx.authenticator.resolve(this.request, undefined, this.credential, 'any', { recheck: true, consume });
    if (outcome.ok) {
      const refusal = this.withdrawn(outcome);
      if (refusal) return this.refuse(id, refusal, arrived, CLOSE.policy);
      this.adopt(outcome.principal);
      return undefined;
    }
    // Over the client's rate limit: this message is refused, the socket stays.
    if (outcome.reason === 'rate_limit') return { frame: serialize(failure(id, outcome.error, elapsedSince(arrived))) };
    this.ctx.metrics.authFailures.inc({ code: outcome.code });
    return this.refuse(id, outcome.error, arrived, CLOSE.policy);
  }

  /** Why the socket's rights are gone, or undefined while they stand (a rate limit is not a loss of rights). */
  private withdrawn(outcome: AuthOutcome): ApiError | undefined {
    if (!outcome.ok) return outcome.reason === 'rate_limit' ? undefined : outcome.error;
    if (!canSeeDatabase(outcome.principal, this.database)) return errors.notFound(`Database '${this.database}' not found`);
    return undefined;
  }

  private async query(message: Extract<ClientMessage, { type: 'query' }>, arrived: number): Promise<Reply> {
    const principal = this.currentPrincipal!;
    try {
      const answer = await this.ctx.engine.database(this.database).query(message.sql, (message.params ?? undefined) as Json[] | Record<string, Json> | undefined, {
        deadline: arrived + this.ctx.queryTimeoutMs,
        budget: budgetFor(principal.isAdmin, this.budgetQuery, this.ctx.limits),
        ...sqlPolicyFor(principal, this.database),
      });
      // `result` last, so a large answer can go out as slices of its rows.
      const head = `{"id":${JSON.stringify(message.id)},"success":true,"duration":${elapsedSince(arrived)},"columns":${JSON.stringify(answer.columns)},`
        + `"rowCount":${answer.rowCount},"truncated":${answer.truncated}${answer.truncatedBy === undefined ? '' : `,"truncatedBy":"${answer.truncatedBy}"`},"result":`;
      if (isLarge(answer.result)) return { frame: jsonSlices(head, answer.result, '}') };
      return { frame: `${head}${JSON.stringify(answer.result)}}` };
    } catch (error) {
      if (!isApiError(error)) throw error;
      return { frame: serialize(failure(message.id, error, elapsedSince(arrived))) };
    }
  }

  private refuse(id: MessageIdValue, error: ApiError, arrived: number, code: number): Reply {
    return { frame: serialize(failure(id, error, elapsedSince(arrived))), close: { code, reason: closeReason(error.message) } };
  }

  private internalError(id: MessageIdValue, error: unknown, arrived: number): Reply {
    this.ctx.log.error({ err: error }, 'websocket message failed');
    return { frame: serialize(failure(id, new ApiError(500, 'internal_error', 'Internal server error'), elapsedSince(arrived))) };
  }

  /** Sends a reply's frame, then closes when it says so. */
  private async send(reply: Reply): Promise<void> {
    if (reply.frame !== '') await this.deliver(reply.frame);
    if (reply.close) this.close(reply.close.code, reply.close.reason);
  }

  /** Resolves once the frame is handed to the kernel (or the socket is gone). Frames go out in call order. */
  private async deliver(frame: string | Readable): Promise<void> {
    while (this.streaming) await this.streaming;
    if (this.socket.readyState !== this.socket.OPEN) return;
    if (typeof frame === 'string') return this.write(frame, true);
    const streaming = this.stream(frame).finally(() => {
      if (this.streaming === streaming) this.streaming = undefined;
    });
    this.streaming = streaming;
    return streaming;
  }

  /** One message in fragments, one slice at a time, each after the last was written. */
  private async stream(slices: Readable): Promise<void> {
    let previous: string | undefined;
    for await (const slice of slices) {
      if (previous !== undefined) await this.write(previous, false);
      if (this.socket.readyState !== this.socket.OPEN) {
        slices.destroy();
        return;
      }
      previous = String(slice);
    }
    await this.write(previous ?? '', true);
  }

  private write(text: string, fin: boolean): Promise<void> {
    return new Promise((resolve) => this.socket.send(text, { fin }, () => resolve()));
  }

  private close(code: number, reason: string): void {
    if (this.state === 'closed') return;
    this.state = 'closing';
    clearTimeout(this.authTimer);
    clearTimeout(this.expiryTimer);
    this.queue.length = 0;
    // The peer's closing frame must be read for the handshake to finish.
    this.resume();
    this.socket.close(code, closeReason(reason));
  }

  private closed(): void {
    this.state = 'closed';
    clearTimeout(this.authTimer);
    clearTimeout(this.expiryTimer);
    this.queue.length = 0;
    this.drained?.();
    this.onClosed(this);
  }
}
