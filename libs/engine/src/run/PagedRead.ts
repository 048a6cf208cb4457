import { Effect, Ref, Stream } from "effect"
import type { ConnectorFailure } from "../ConnectorError.ts"
import { retrySchedule } from "../Retry.ts"
import type { RetryPolicy } from "../Retry.ts"
import type { KeyTuple, Page } from "../Rows.ts"
import type { KeysetSource, SourceReader } from "../SqlConnector.ts"

/**
 * Reads a source page by page after `start`, re-reading from the last page handed
 * downstream when a read fails transiently, so no page is skipped or read twice.
 * The retry budget applies to consecutive failures: `Stream.retry` resets its
 * schedule once a page gets through.
 */
export const readPages = (sql: SourceReader, source: KeysetSource, start: KeyTuple | null, policy: RetryPolicy, onRetry: Effect.Effect<void>): Stream.Stream<Page, ConnectorFailure> =>
  Stream.unwrap(Effect.gen(function*() {
    const lastRead = yield* Ref.make(start)
    return Stream.suspend(() => sql.pages(source, Ref.getUnsafe(lastRead))).pipe(
      Stream.tap((page) => Ref.set(lastRead, page.lastKey)),
      Stream.retry(retrySchedule(policy, () => onRetry))
    )
  }))
