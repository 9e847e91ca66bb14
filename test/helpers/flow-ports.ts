import type { CommonPorts } from '../../src/flows/failure-events.js'
import { createLogger } from '../../src/log.js'

/**
 * The ports every flow has, for a test that runs a flow over records it made itself: records are
 * looked up by their value in `envelopes`, error events are dropped, dead letters keep their code.
 */
export function recordPorts<E>(opts: {
  envelopes: Map<string, E>
  deadLetters?: string[]
}): CommonPorts & { decode: (value: Buffer) => Promise<E> } {
  return {
    publishError: () => Promise.resolve(),
    publishDeadLetter: (d) => {
      opts.deadLetters?.push(d.code)
      return Promise.resolve()
    },
    now: Date.now,
    log: createLogger('silent'),
    decode: (value) => {
      const env = opts.envelopes.get(value.toString())
      return env === undefined ? Promise.reject(new Error('unknown record')) : Promise.resolve(env)
    },
  }
}
