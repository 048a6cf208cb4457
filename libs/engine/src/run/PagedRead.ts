import { Effect, Ref, Stream } from "effect"
import type { ConnectorFailure } from "../ConnectorError.ts"
import { isRetryable } from "../ConnectorError.ts"
import { backoffDelay } from "../Retry.ts"
import type { RetryPolicy } from "../Retry.ts"
import type { KeyTuple, Page } from "../Rows.ts"
import type { KeysetSource, SqlConnector } from "../SqlConnector.ts"

/**
 * Reads a source page by page after `start`, re-reading from the last page handed
 * downstream when a read fails transiently, so no page is skipped or read twice.
 * The retry budget applies to consecutive failures: any page read resets it.
 */
export const readPages = (sql: SqlConnector, source: KeysetSource, start: KeyTuple | null, policy: RetryPolicy, onRetry: Effect.Effect<void>): Stream.Stream<Page, ConnectorFailure> =>
  Stream.unwrap(Effect.gen(function*() {
    const lastRead = yield* Ref.make(start)
    const failures = yield* Ref.make(0)
    const attempt = (): Stream.Stream<Page, ConnectorFailure> =>
      Stream.suspend(() => sql.pages(source, Ref.getUnsafe(lastRead))).pipe(
        Stream.tap((page) => Ref.set(lastRead, page.lastKey).pipe(Effect.andThen(Ref.set(failures, 0)))),
        Stream.catchIf(
          (e: ConnectorFailure) => isRetryable(e) && Ref.getUnsafe(failures) + 1 < policy.attempts,
          () =>
            Stream.fromEffectDrain(
              Ref.getAndUpdate(failures, (n) => n + 1).pipe(
                Effect.tap(() => onRetry),
                Effect.flatMap((n) => Effect.sleep(backoffDelay(policy, n)))
              )
            ).pipe(Stream.concat(Stream.suspend(attempt)))
        )
      )
    return attempt()
  }))
