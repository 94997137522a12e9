/**
 * Bytes received in pieces, taken out again without copying: `take` returns slices of the
 * pieces it spans. Only `takeContiguous` copies, and only when its bytes span pieces.
 */
export class ByteQueue {
  private pieces: Buffer[] = [];
  /** Bytes queued. */
  length = 0;

  /** Appends a piece (kept by reference). */
  push(piece: Buffer): void {
    if (piece.length === 0) return;
    this.pieces.push(piece);
    this.length += piece.length;
  }

  /** Removes the first `n` bytes and returns them as slices of the queued pieces. */
  take(n: number): Buffer[] {
    if (n > this.length) throw new RangeError(`take(${n}) from ${this.length} bytes`);
    const out: Buffer[] = [];
    let left = n;
    while (left > 0) {
      const first = this.pieces[0]!;
      if (first.length <= left) {
        out.push(first);
        this.pieces.shift();
        left -= first.length;
      } else {
        out.push(first.subarray(0, left));
        this.pieces[0] = first.subarray(left);
        left = 0;
      }
    }
    this.length -= n;
    return out;
  }

  /** Removes the first `n` bytes as one Buffer. */
  takeContiguous(n: number): Buffer {
    const parts = this.take(n);
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts, n);
  }

  /** Drops everything queued. */
  clear(): void {
    this.pieces = [];
    this.length = 0;
  }
}
