import { METHOD_NAMES } from '../../src-shared/channels';
import type { BatchStoreResult, CacheAdminApi, CacheAdminEvent, Result } from '../../src-shared/contract';
import type { ErrorInfo } from '../../src-shared/errors';
import { frameHeader } from '../../src-shared/batch-frame';
import { failure, type CacheAdminClient, type DroppedFile, type StoreChoice } from './client';

/** A 401: the bridge this page's cookie was made for has gone (a new run has a new token), or its cookie has. */
export const TOKEN_REFUSED = { code: 'unauthorized' as const, message: "the bridge refused this page's token (it was restarted, or its token changed): open the URL it printed" };
/** No answer at all: `npm run web` was stopped (a bridge started again has a new token, so this page cannot get it back). */
export const BRIDGE_GONE = { code: 'disconnected' as const, message: 'the bridge has stopped (npm run web is no longer running): start it again and open the URL it prints' };
/** How long the event stream waits before it is opened again when it ended for another reason (the bridge's retry is the browser's 3 s). */
const REOPEN_EVENTS_MS = 3000;

async function parse<T>(response: Response): Promise<Result<T>> {
  if (response.status === 401) return { ok: false, error: TOKEN_REFUSED };
  try {
    return (await response.json()) as Result<T>;
  } catch {
    return failure('internal', `the bridge answered ${response.status}`);
  }
}

/**
 * Whether the browser can still read a dropped file as it was when dropped. One changed on disk since
 * then is refused (NotReadableError), and a fetch sending it fails as if the bridge were gone; one
 * removed reads as no bytes, and Chromium sends it as no bytes inside a batch's body, which would
 * misframe the files after it.
 */
async function readable(file: File): Promise<boolean> {
  try {
    return (await file.slice(0, 1).arrayBuffer()).byteLength === Math.min(1, file.size);
  } catch {
    return false;
  }
}

/** Failures of requests that got no answer from a bridge still there (a dropped file that changed as it was read cuts its send off). */
const cutOffRequests = new WeakSet<ErrorInfo>();
/** A send that got no answer: the bridge gone, or the request cut off. */
const unsentFailure = (error: ErrorInfo) => error === BRIDGE_GONE || cutOffRequests.has(error);

const changedSinceDropped = (name: string) => ({ code: 'io_error' as const, message: `${name} changed or was removed after it was dropped, so the browser will not send it: nothing of it was stored; drop it again` });

/**
 * The browser: the same contract over the loopback bridge; files are streamed as upload bodies.
 * The token travels as the HttpOnly cookie the bridge set when its printed URL was opened.
 */
export function bridgeClient(): CacheAdminClient {
  const uploads = new Map<string, AbortController>();
  const refusedListeners = new Set<(error: ErrorInfo) => void>();

  /** Whatever asked (a background count, a poll), the page hears it at once: every call after it fails the same way. */
  function cutOff<T>(result: Result<T>): Result<T> {
    if (!result.ok && (result.error === TOKEN_REFUSED || result.error === BRIDGE_GONE)) for (const listener of refusedListeners) listener(result.error);
    return result;
  }

  /** After a request got no answer: the bridge gone, or refusing this page now, or only that request cut off. */
  async function unanswered<T>(err: unknown): Promise<Result<T>> {
    const probe = await fetch('/api/call/capabilities', { method: 'POST', body: '{}' }).catch(() => null);
    if (probe === null) return cutOff({ ok: false, error: BRIDGE_GONE });
    if (probe.status === 401) return cutOff({ ok: false, error: TOKEN_REFUSED });
    const error = { code: 'io_error' as const, message: `the request was cut off before the bridge answered (${(err as Error).message}): whether it was done is not known` };
    cutOffRequests.add(error);
    return { ok: false, error };
  }

  async function post<T>(url: string, body: BodyInit, signal?: AbortSignal): Promise<Result<T>> {
    let response: Response;
    try {
      response = await fetch(url, { method: 'POST', body, signal });
    } catch (err) {
      return signal?.aborted ? failure('cancelled', 'cancelled') : unanswered(err);
    }
    return cutOff(await parse<T>(response));
  }

  const api = Object.fromEntries(METHOD_NAMES.map((m) => [m, (input: unknown) => post(`/api/call/${m}`, JSON.stringify(input ?? {}))])) as CacheAdminApi;

  /** The store choices as the upload and batch queries carry them. */
  const choiceQuery = ({ as, options, opened }: StoreChoice) => ({ ...(as && { as }), ...(options && Object.keys(options).length && { options: JSON.stringify(options) }), ...(opened && { opened }) });

  // A File body is read from disk by the browser as it is sent: never buffered here.
  async function upload<T>(op: 'hash' | 'store', file: File, namespace: string, transferId: string, choice: StoreChoice): Promise<Result<T>> {
    // A file the browser will not send fails as the file's, not as the store's: it is not down.
    const unsent = { ok: false as const, error: changedSinceDropped(file.name) };
    if (!(await readable(file))) return unsent;
    const controller = new AbortController();
    uploads.set(transferId, controller);
    const query = new URLSearchParams({ op, namespace, name: file.name, transferId, ...choiceQuery(choice) });
    const sent = await post<T>(`/api/upload?${query}`, file, controller.signal).finally(() => uploads.delete(transferId));
    // Changed between that check and its send (it failed the fetch).
    return !sent.ok && unsentFailure(sent.error) && !(await readable(file)) ? unsent : sent;
  }

  /**
   * One body of framed files: the Blob only refers to the Files, which the browser reads from disk as
   * it sends. A file it can no longer read cuts the whole body off, so each is tried first, and one
   * that cannot be read fails alone. One that changes after that fails the send as if the bridge were
   * gone; the bridge checks a batch's body whole before storing any of it (a one-file batch streams,
   * and a cut one is not stored), so nothing was stored, and the batch goes again without it.
   */
  async function storeBatch(files: DroppedFile[], namespace: string, dropId: string, choice: StoreChoice): Promise<Result<BatchStoreResult>> {
    const changed = new Set<DroppedFile>();
    let unreachable: Result<BatchStoreResult> | null = null;
    for (let sending = files; ; ) {
      const ok = await Promise.all(sending.map(({ file }) => readable(file)));
      const readableNow = sending.filter((_, i) => ok[i]);
      for (const dropped of sending) if (!readableNow.includes(dropped)) changed.add(dropped);
      // The send got no answer, and no file changed since: the bridge's failure, said as it is.
      if (unreachable && readableNow.length === sending.length) return unreachable;
      const sent: Result<BatchStoreResult> = readableNow.length
        ? await post(`/api/batch?${new URLSearchParams({ namespace, dropId, ...choiceQuery(choice) })}`, new Blob(readableNow.flatMap(({ file, name }) => [frameHeader(name, file.size), file])))
        : { ok: true, value: { outcomes: [] } };
      if (!sent.ok && unsentFailure(sent.error)) {
        unreachable = sent;
        sending = readableNow;
        continue;
      }
      if (!sent.ok || changed.size === 0) return sent;
      const outcomes = sent.value.outcomes.values();
      return { ok: true, value: { outcomes: files.map((dropped) => (changed.has(dropped) ? { name: dropped.name, error: changedSinceDropped(dropped.name) } : outcomes.next().value!)) } };
    }
  }

  return {
    api,
    onEvent(listener) {
      let opened = false;
      let closed = false;
      let source: EventSource;
      let reopening: ReturnType<typeof setTimeout> | undefined;
      const open = () => {
        source = new EventSource('/api/events');
        source.onmessage = (message) => listener(JSON.parse(message.data as string) as CacheAdminEvent);
        // Connected again (the bridge cut a page that fell far behind, or it restarted): what changed
        // meanwhile was not heard, so anything may have.
        source.onopen = () => {
          if (opened) listener({ type: 'entriesChanged', namespace: null });
          opened = true;
        };
        // The browser reconnects by itself while the bridge is away, and a call says whether it stopped
        // (the page hears it: post). An answer that is not the stream (a restarted bridge's 401) ends it
        // for good, unsaid: a call says why; refused, the page hears it; anything else, it is opened again.
        source.onerror = () => {
          if (closed) return;
          const retrying = source.readyState !== EventSource.CLOSED;
          void post('/api/call/capabilities', '{}').then((answer) => {
            if (retrying || closed || (!answer.ok && (answer.error === TOKEN_REFUSED || answer.error === BRIDGE_GONE))) return;
            reopening = setTimeout(() => closed || open(), REOPEN_EVENTS_MS);
          });
        };
      };
      open();
      return () => {
        closed = true;
        clearTimeout(reopening);
        source.close();
      };
    },
    onRefused(listener) {
      refusedListeners.add(listener);
      return () => refusedListeners.delete(listener);
    },
    hashFile: (file, namespace, transferId, choice) => upload('hash', file, namespace, transferId, choice),
    storeFile: (file, namespace, transferId, choice) => upload('store', file, namespace, transferId, choice),
    storeBatch,
    async cancel(transferId) {
      // Main answers once the transfer has ended; a store that committed first keeps its answer coming.
      const outcome = await api.cancel({ transferId });
      if (!outcome.ok || outcome.value.cancelled) uploads.get(transferId)?.abort(); // the rest of the body is not needed
      return outcome;
    },
    async saveEntry(namespace, ref, allowExpired) {
      // How a download ends is the browser's to show; one that cannot start (deleted meanwhile) is said here.
      const there = await api.entry({ namespace, ref, allowExpired });
      if (!there.ok) return there;
      // Lost or damaged since it was shown: the browser would report a failed download of no file, with no reason.
      const { contentProblem, record } = there.value;
      if (contentProblem === 'missing') return { ok: false, error: { code: 'not_found', message: `the content of ${record.cache_id} is missing from the store: nothing was saved (verify reports it)` } };
      if (contentProblem === 'corrupt') return { ok: false, error: { code: 'corrupt', message: `the content of ${record.cache_id} is corrupt (it does not hash to its entry's hash)` } };
      const link = document.createElement('a');
      link.href = `/api/content?${new URLSearchParams({ namespace, ref, ...(allowExpired ? { allowExpired: 'true' } : {}) })}`;
      link.download = '';
      link.click();
      return { ok: true, value: { saved: true } };
    },
    async saveEntries(namespace, selection, includeExpired) {
      const link = document.createElement('a');
      link.href = `/api/entries-archive?${new URLSearchParams({ namespace, selection: JSON.stringify(selection), ...(includeExpired ? { includeExpired: 'true' } : {}) })}`;
      link.download = '';
      link.click();
      return { ok: true, value: 'download' };
    },
  };
}
