// The data planes the shared suite runs against: `node` always, `haproxy` when the binary is here.
import { type Dataplane, haproxyAvailable } from '../../src/index.js';

export const PLANES: Dataplane[] = haproxyAvailable() ? ['node', 'haproxy'] : ['node'];
