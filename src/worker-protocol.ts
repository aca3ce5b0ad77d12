/*
 * What the winston transport (on the app's thread) and the worker it starts
 * (pino's transport module, src/pino.ts) agree on, apart from the lines
 * themselves (see LineFraming). Its own module, so that the transport does not
 * load the worker's.
 */

/**
 * The key of the worker's options that says the winston transport started it:
 * its lines are `headed` (see LineFraming). A key no user option can collide
 * with, as pino's own `$context`.
 */
export const WINSTON_WORKER = '$winston'

/** What the winston transport sends the worker to close its engine, and the event the worker answers with. */
export const WINSTON_CLOSE = 'PINO_WS_CLOSE'
export const WINSTON_CLOSED = 'pino-websocket:closed'

/** How often, at most, the worker reports its counters while they change (for the winston transport's stats()). */
export const STATS_INTERVAL = 100
