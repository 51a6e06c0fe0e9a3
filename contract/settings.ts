import { Config } from "effect"

// Settings every part reads, each through one Config so it has one name, one default and one reader.

/**
 * DATA_DIR: the folder holding the system's state and secrets (the embedded database, identities, keys, agents' state
 * dirs), default `.data` under the working directory. Callers resolve it to an absolute path.
 */
export const DataDir = Config.String("DATA_DIR").pipe(Config.withDefault(".data"))
