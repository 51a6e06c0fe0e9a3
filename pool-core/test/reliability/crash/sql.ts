// One-off SQL for test setup (create/drop the crash test's schema) on the server from DATABASE_URL.
import { Effect } from "effect"
import { SqlClient } from "effect/sql"
import { pgClientLayer } from "../../../db/Database.ts"

export const SQL = (url: string, query: string) =>
  Effect.runPromise(
    Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe(query)).pipe(
      Effect.provide(pgClientLayer(url, 1)),
      Effect.scoped,
    ),
  )
