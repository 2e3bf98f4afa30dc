/** What an S3 SDK error says, read the same way by every caller. */
export interface AwsError {
  name?: string;
  code?: string;
  $metadata?: { httpStatusCode?: number };
  message?: string;
}

export const s3Status = (err: unknown): number | undefined => (err as AwsError).$metadata?.httpStatusCode;

export function isPreconditionFailed(err: unknown): boolean {
  return (err as AwsError).name === 'PreconditionFailed' || s3Status(err) === 412;
}

export function isNotFound(err: unknown): boolean {
  const { name } = err as AwsError;
  return name === 'NoSuchKey' || name === 'NotFound' || s3Status(err) === 404;
}
