/**
 * Sets `key` as the newest entry of an insertion-ordered map and, when the map holds more
 * than `max` entries, drops the oldest: the small bounded cache the DNS cache, GeoIP lookups
 * and sticky sessions share.
 */
export function setBounded<K, V>(map: Map<K, V>, key: K, value: V, max: number): void {
  map.delete(key);
  map.set(key, value);
  if (map.size > max) map.delete(map.keys().next().value!);
}
