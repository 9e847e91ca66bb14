/**
 * GWB_DEBUG=1 (read by the entry point): stacks of unexpected errors and the client libraries' logs
 * (kafkajs, the cache) on stderr. Off, a command's output holds only its own lines.
 */
let debug = false

export const setDebug = (on: boolean): void => {
  debug = on
}

export const isDebug = (): boolean => debug
