// The atproto servers call listen(port) without a host, which binds every interface.
// Preloaded with `node -r ./loopback.cjs`: a listen without a host binds 127.0.0.1 only.
const net = require('node:net')

const listen = net.Server.prototype.listen
net.Server.prototype.listen = function (...args) {
  const first = args[0]
  if (typeof first === 'number' || (typeof first === 'string' && /^\d+$/.test(first))) {
    const second = args[1]
    if (typeof second !== 'string') args.splice(1, 0, '127.0.0.1')
  } else if (first && typeof first === 'object' && !first.path && !first.host) {
    args[0] = { ...first, host: '127.0.0.1' }
  } else if (first === undefined || typeof first === 'function') {
    args.unshift(0, '127.0.0.1')
  }
  return listen.apply(this, args)
}
