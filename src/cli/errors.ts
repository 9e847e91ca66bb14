/** A problem with how the command was called: exit code 2, the message says what to fix. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'UsageError'
  }
}

/** An expected failure (unknown tenant, nothing to re-drive ...): exit code 1, no stack trace. */
export class CliFailure extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'CliFailure'
  }
}
