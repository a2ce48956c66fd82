/**
 * Errors the HTTP layer decides on, each with the status it maps to. Everything else is mapped in one place
 * (build-app.ts's error handler): ValidationError -> 400, RetryableError -> 503 with Retry-After, the rest 500.
 */
import { AppError } from '../errors/app-error.js';

/** No credential, or one that does not verify: 401. */
export class UnauthorizedError extends AppError {
  constructor(message: string, code = 'UNAUTHORIZED') {
    super(message, { code });
  }
}

/** A valid credential used where it has no right (wrong tenant, not an operator): 403. */
export class ForbiddenError extends AppError {
  constructor(message: string, code = 'FORBIDDEN') {
    super(message, { code });
  }
}

/** The addressed resource does not exist (for this tenant): 404. */
export class NotFoundError extends AppError {
  constructor(message: string) {
    super(message, { code: 'NOT_FOUND' });
  }
}
