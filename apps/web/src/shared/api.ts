// The one API client of the dashboard: same origin, so the session cookie goes with every request
// and the browser adds the Origin header the API's CSRF check wants on state-changing requests.
import { createApiClient } from '@paastech/api-client';

export { type Schemas, unwrap } from '@paastech/api-client';

export const api = createApiClient({ baseUrl: window.location.origin });
