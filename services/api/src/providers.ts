// Injection tokens for what startApi creates before Nest starts (config, database, logger), so
// every module can inject them: `@Inject(DATABASE) database: Database`.
export const API_CONFIG = Symbol('API_CONFIG');
export const DATABASE = Symbol('DATABASE');
export const LOGGER = Symbol('LOGGER');
