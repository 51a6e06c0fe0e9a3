import { Effect, Layer, Option, Schema } from "effect"
import { ProviderError } from "../../domain/errors.ts"
import { Compute } from "../compute/Compute.ts"
import { makeCreate, type Target } from "./create.ts"
import { isNotFound, makeRailwayApi } from "./graphql.ts"
import { makeLookups } from "./lookups.ts"
import { railwaySettingsFromEnv, type RailwaySettings } from "./settings.ts"
import { makeStatusBatch } from "./status.ts"

// Railway compute (README.md next to this file: operations, rate limits, how the layer stays within them).
// Two layouts:
// - shared project (RAILWAY_PROJECT_ID + RAILWAY_ENVIRONMENT_ID, or a project token): one service per agent in one
//   project, so the whole pool's status is ONE query per tick;
// - project per agent (RAILWAY_TEAM_ID): isolation per agent; status still batches up to 20 projects per request.
// Destroy succeeds only when Railway deleted the resource or says it does not exist ("not found"): "Not Authorized"
// fails (fault unauthorized), so the pool never deletes a row while the service keeps running and billing.

export { RAILWAY_IMAGE_HINT, railwayConfigured, railwaySettingsFromEnv, type RailwaySettings } from "./settings.ts"
export { stateOf } from "./status.ts"

const notFoundIsDone = <E extends ProviderError>(effect: Effect.Effect<unknown, E>) =>
  effect.pipe(
    Effect.asVoid,
    Effect.catchIf(isNotFound, () => Effect.void),
  )

export const railwayComputeLive = (settings: RailwaySettings) =>
  Layer.sync(Compute, () => {
    const api = makeRailwayApi(settings)
    const layout = settings.layout
    const lookups = makeLookups(api, settings.pageSize ?? 100)

    // Shared layout with a project token and no ids configured: Railway tells the token's project and environment.
    let shared: Target | null =
      layout._tag === "shared" && layout.projectId && layout.environmentId
        ? { projectId: layout.projectId, environmentId: layout.environmentId, owned: false }
        : null
    const sharedTarget: Effect.Effect<Target, ProviderError> = Effect.suspend(() =>
      shared !== null
        ? Effect.succeed(shared)
        : api
            .query(
              "project token scope",
              `query { projectToken { projectId environmentId } }`,
              {},
              Schema.Struct({
                projectToken: Schema.Struct({ projectId: Schema.String, environmentId: Schema.String }),
              }),
            )
            .pipe(
              Effect.map(
                ({ projectToken }) =>
                  (shared = {
                    projectId: projectToken.projectId,
                    environmentId: projectToken.environmentId,
                    owned: false,
                  }),
              ),
            ),
    )

    const deleteProject = (projectId: string) =>
      notFoundIsDone(
        api.query(
          "delete project",
          `mutation($id: String!) { projectDelete(id: $id) }`,
          { id: projectId },
          Schema.Struct({ projectDelete: Schema.Boolean }),
          { idempotent: true },
        ),
      )

    /** Shared layout: the service's volumes first (a deleted service would no longer lead to them), then the service. */
    const deleteService = (projectId: string, serviceId: string) =>
      Effect.gen(function* () {
        const volumes = yield* lookups.volumesOf(projectId, serviceId)
        yield* Effect.forEach(
          volumes,
          (volumeId) =>
            notFoundIsDone(
              api.query(
                "delete volume",
                `mutation($volumeId: String!) { volumeDelete(volumeId: $volumeId) }`,
                { volumeId },
                Schema.Struct({ volumeDelete: Schema.Boolean }),
                { idempotent: true },
              ),
            ),
          { discard: true },
        )
        yield* notFoundIsDone(
          api.query(
            "delete service",
            `mutation($id: String!) { serviceDelete(id: $id) }`,
            { id: serviceId },
            Schema.Struct({ serviceDelete: Schema.Boolean }),
            { idempotent: true },
          ),
        )
      })

    const destroy = (providerRef: string) =>
      Effect.gen(function* () {
        const found = yield* api
          .query(
            "find service",
            `query($id: String!) { service(id: $id) { id projectId } }`,
            { id: providerRef },
            Schema.Struct({ service: Schema.Struct({ id: Schema.String, projectId: Schema.String }) }),
          )
          .pipe(
            Effect.map((r) => r.service),
            Effect.catchIf(isNotFound, () => Effect.succeed(null)),
          )
        if (found === null) return // Railway says it does not exist: already gone
        if (layout._tag === "perAgent") return yield* deleteProject(found.projectId) // cascades to its service and volumes
        yield* deleteService(found.projectId, providerRef)
      })

    const create = makeCreate(api, settings, { sharedTarget, deleteProject, deleteService })
    const batch = makeStatusBatch(api, {
      environmentId: () => shared?.environmentId ?? null,
      pageSize: settings.pageSize ?? 100,
    })
    // Shared layout: the pool's environment must be known to read the right service instance (domain, deployment).
    const statusBatch: typeof batch = (refs) =>
      layout._tag === "shared" && refs.length > 0 ? Effect.flatMap(sharedTarget, () => batch(refs)) : batch(refs)

    return Compute.of({ name: "railway", create, destroy, statusBatch })
  })

const notConfigured = (operation: string) =>
  Effect.fail(
    new ProviderError({
      provider: "railway",
      operation,
      status: null,
      retryable: false,
      message:
        "Railway is not configured: set RAILWAY_API_TOKEN (and RAILWAY_TEAM_ID or RAILWAY_PROJECT_ID + RAILWAY_ENVIRONMENT_ID), or a project token in RAILWAY_TOKEN.",
    }),
  )

/** Compute port without keys: every call explains what to set (the Compute port's errors are ProviderError). */
export const railwayComputeDisabled = Layer.succeed(Compute, {
  name: "railway",
  create: () => notConfigured("create"),
  destroy: () => notConfigured("destroy"),
  statusBatch: () => notConfigured("status"),
})

export const railwayComputeLayerFromEnv = Layer.unwrap(
  Effect.map(
    railwaySettingsFromEnv,
    Option.match({ onNone: () => railwayComputeDisabled, onSome: railwayComputeLive }),
  ),
)
