export { LocalComputeLive, localComputeLayer, makeLocalCompute, type LocalComputeOptions } from "./LocalCompute.ts"
