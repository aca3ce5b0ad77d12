/**
 * Where this build's modules are: the URL of this file. The ESM build reads it
 * from `import.meta`; CommonJS has no `import.meta`, so scripts/build.mjs
 * replaces this module in dist/cjs with one that reads `__filename`.
 */
// Not @ts-expect-error: the ESM compile has no error to expect.
// eslint-disable-next-line @typescript-eslint/ban-ts-comment
// @ts-ignore -- TS1343 in the CommonJS compile, whose output is replaced.
export const MODULE_URL: string = import.meta.url
