import t from 'tap'
import { allowedMediaTypes, checkMediaType, extensionOf, normaliseMediaType } from '../../src/processors/media-type.js'

const b = (...parts: (string | number[])[]) =>
  Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : Buffer.from(p))))

const samples: Record<string, Buffer> = {
  'image/jpeg': b([0xff, 0xd8, 0xff, 0xe0], 'JFIF'),
  'image/png': b([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'IHDR'),
  'image/webp': b('RIFF', [1, 0, 0, 0], 'WEBPVP8 '),
  'image/gif': b('GIF89a', [1, 0]),
  'application/pdf': b('%PDF-1.4\n'),
  'application/msword': b([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1]),
  'application/vnd.openxmlformats-officedocument.wordprocessingml.document': b('PK', [3, 4], 'word/'),
  'video/mp4': b([0, 0, 0, 0x18], 'ftypmp42'),
  'video/3gpp': b([0, 0, 0, 0x18], 'ftyp3gp4'),
  'audio/mp4': b([0, 0, 0, 0x18], 'ftypM4A '),
  'audio/mpeg': b('ID3', [4, 0]),
  'audio/ogg': b('OggS', [0]),
  'audio/amr': b('#!AMR\n'),
  'audio/aac': b([0xff, 0xf1, 0x50]),
  'text/plain': b('Hello, world\n'),
}

t.test('every allowed type has a sample that passes, and no other allowed type accepts HTML', async (t) => {
  for (const [type, bytes] of Object.entries(samples)) t.match(checkMediaType(type, bytes), { ok: true }, type)
  const html = b('<!doctype html><script>alert(1)</script>')
  for (const type of Object.keys(allowedMediaTypes)) {
    t.match(checkMediaType(type, html), { ok: false, reason: 'media_type_mismatch' }, `HTML claimed as ${type}`)
  }
})

t.test('types browsers render are not allowed at all; claims are normalised', async (t) => {
  for (const type of [
    'text/html',
    'image/svg+xml',
    'application/xhtml+xml',
    'text/xml',
    'application/javascript',
    undefined,
  ]) {
    t.match(checkMediaType(type, b('x')), { ok: false, reason: 'media_type_not_allowed' }, String(type))
  }
  t.equal(normaliseMediaType(' Image/JPG ; q=1'), 'image/jpeg')
  t.equal(normaliseMediaType('audio/ogg; codecs=opus'), 'audio/ogg')
  t.same(checkMediaType('TEXT/PLAIN', b('plain')), { ok: true, contentType: 'text/plain; charset=utf-8' })
  t.match(checkMediaType('text/plain', b(' \n<svg onload=x>')), { ok: false }, 'markup is not plain text')
  t.match(checkMediaType('text/plain', b([0xff, 0xfe, 0])), { ok: false }, 'binary is not plain text')
  t.equal(checkMediaType('constructor', b('x')).ok, false, 'no prototype keys')
  t.equal(extensionOf('__proto__'), 'bin')
  t.equal(extensionOf('application/vnd.ms-excel'), 'xls')
  t.equal(extensionOf('application/octet-stream'), 'bin')
})
