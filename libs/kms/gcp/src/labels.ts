/**
 * fleetkey tags as Cloud KMS labels. Labels are restricted (keys: lowercase letter first, then
 * lowercase letters, digits, `_` and `-`, at most 63; values: the same characters, at most 63; at
 * most 64 labels — https://cloud.google.com/kms/docs/creating-managing-labels), so tags must
 * already fit: a tag that does not is refused rather than silently rewritten, because a rewritten
 * tag would no longer match the caller's own filter.
 *
 * Trust boundary: tags are caller input.
 */
export const MAX_GCP_LABELS = 64;
const LABEL_KEY = /^[a-z][a-z0-9_-]{0,62}$/;
const LABEL_VALUE = /^[a-z0-9_-]{0,63}$/;

/** @throws TypeError / RangeError naming the tag that Cloud KMS would refuse. */
export function labelsFromTags(tags: Readonly<Record<string, string>>): Record<string, string> {
  if (typeof tags !== 'object' || tags === null || Array.isArray(tags)) throw new TypeError('"tags" expected a record of strings');
  const entries = Object.entries(tags);
  if (entries.length > MAX_GCP_LABELS) throw new RangeError(`"tags" expected at most ${MAX_GCP_LABELS} entries on Cloud KMS, got ${entries.length}`);
  for (const [key, value] of entries) {
    if (!LABEL_KEY.test(key)) throw new RangeError(`"tags" key ${JSON.stringify(key.slice(0, 64))} is not a Cloud KMS label key ([a-z][a-z0-9_-]{0,62})`);
    if (typeof value !== 'string' || !LABEL_VALUE.test(value)) throw new RangeError(`"tags" value of ${JSON.stringify(key)} is not a Cloud KMS label value ([a-z0-9_-]{0,63})`);
  }
  return { ...tags };
}

export function tagsFromLabels(labels: Readonly<Record<string, string>>): Record<string, string> {
  return { ...labels };
}
