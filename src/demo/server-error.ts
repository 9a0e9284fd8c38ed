/**
 * An error the demo model server answers with its own status and message, as
 * `{"error": message}` (the error body both KServe v2 and TF Serving use).
 */
export class ServerError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'ServerError';
  }
}
