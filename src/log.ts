import pino, { type Logger } from 'pino'

/**
 * Secrets never reach a log line, even when an object carrying one is logged by mistake.
 * Paths cover tenant specs, credential rows, HTTP headers and error details.
 */
const secretKeys = [
  'accessToken',
  'access_token',
  'appSecret',
  'clientSecret',
  'webhookSecret',
  // A rotated-out signing secret during its overlap ({ secret, until }): the whole object goes.
  'previousWebhookSecret',
  'previousAppSecret',
  'verifyToken',
  'authorization',
  'Authorization',
  'password',
  'secretKey',
  'credentialsKey',
  'credentialsKeysPrevious',
]
const redactPaths = secretKeys.flatMap((k) => [k, `*.${k}`, `*.*.${k}`, `*.*.*.${k}`])

export type { Logger }

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'genesys-whatsapp-bridge' },
      redact: { paths: redactPaths, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination ?? pino.destination({ sync: false }),
  )
}
