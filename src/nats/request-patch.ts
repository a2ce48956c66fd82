/**
 * Works around a hot-path cost in @nats-io/nats-core 3.4.0: RequestOne.resolver() settles the request and
 * then calls cancel(), which builds `new RequestError("cancelled")` (with a stack trace) on every
 * *successful* request only to reject an already-resolved promise. `noAsyncTraces` does not avoid it;
 * measured at 6-7% of Parley's CPU plus the garbage it makes. After this patch cancel() skips that error
 * once the request has settled; every other path (timeouts, no responders, cancelling an unsettled
 * request) behaves exactly as before. Applied once, at import, by connection.ts.
 */
import { RequestOne } from '@nats-io/nats-core/internal';

interface PatchableRequest {
  timer?: { cancel(): void };
  mux: { cancel(r: unknown): void };
  resolver(err: Error | null, msg: unknown): void;
  cancel(err?: Error): void;
  parleySettled?: boolean;
}

type PatchableProto = PatchableRequest & { parleyPatched?: boolean };

export function patchRequestOne(): boolean {
  const proto = RequestOne.prototype as unknown as PatchableProto;
  if (proto.parleyPatched) return false;
  const resolver = proto.resolver;
  const cancel = proto.cancel;
  proto.resolver = function (this: PatchableRequest, err, msg) {
    this.parleySettled = true;
    resolver.call(this, err, msg);
  };
  proto.cancel = function (this: PatchableRequest, err) {
    if (err || !this.parleySettled) {
      cancel.call(this, err);
      return;
    }
    this.timer?.cancel();
    this.mux.cancel(this);
  };
  proto.parleyPatched = true;
  return true;
}

patchRequestOne();
