/**
 * A byte-level bound on MQTT packet size, watching a connection's inbound bytes alongside the
 * broker's parser. aedes 1.x (mqtt-packet 9) has no maximum packet size, so a client could announce
 * a 256 MiB PUBLISH and have it buffered; this guard reads only the fixed headers (type byte and
 * Remaining Length, [MQTT-2.2.3]) and says stop as soon as a length over the bound is announced,
 * before its body arrives.
 *
 * Trust boundary: the bytes are attacker-supplied; the guard keeps a few integers of state, never
 * buffers, and once it has refused it refuses for good.
 */

export type FrameVerdict = 'ok' | 'oversize' | 'malformed';

/** The Remaining Length is 1..4 bytes of 7 bits each ([MQTT-2.2.3]): at most 268,435,455. */
const MAX_LENGTH_BYTES = 4;

export class MqttFrameGuard {
  private state: 'type' | 'length' | 'body' = 'type';
  private length = 0;
  private multiplier = 1;
  private lengthBytes = 0;
  private remaining = 0;
  private verdict: FrameVerdict = 'ok';

  /**
   * @param maxRemainingLength the largest Remaining Length accepted (variable header + payload).
   * @throws RangeError when it is not an integer in 0..268,435,455.
   */
  constructor(readonly maxRemainingLength: number) {
    if (!Number.isInteger(maxRemainingLength) || maxRemainingLength < 0 || maxRemainingLength > 268_435_455) {
      throw new RangeError('"maxRemainingLength" expected an integer in 0..268435455');
    }
  }

  /** Feeds the next inbound bytes; returns the verdict so far ('ok' until something is wrong). */
  push(chunk: Uint8Array): FrameVerdict {
    let index = 0;
    while (this.verdict === 'ok' && index < chunk.length) {
      switch (this.state) {
        case 'type':
          index += 1;
          this.state = 'length';
          this.length = 0;
          this.multiplier = 1;
          this.lengthBytes = 0;
          break;
        case 'length': {
          const byte = chunk[index]!;
          index += 1;
          this.length += (byte & 0x7f) * this.multiplier;
          this.lengthBytes += 1;
          if (byte & 0x80) {
            if (this.lengthBytes === MAX_LENGTH_BYTES) this.verdict = 'malformed';
            this.multiplier *= 128;
          } else if (this.length > this.maxRemainingLength) {
            this.verdict = 'oversize';
          } else {
            this.remaining = this.length;
            this.state = this.remaining === 0 ? 'type' : 'body';
          }
          break;
        }
        case 'body': {
          const skip = Math.min(this.remaining, chunk.length - index);
          index += skip;
          this.remaining -= skip;
          if (this.remaining === 0) this.state = 'type';
          break;
        }
      }
    }
    return this.verdict;
  }
}
