// The dashboard's shell: session, layout and the route table.
import { Layout } from './layout.js';
import { Routes } from './routes.js';
import { SessionProvider } from './session-provider.js';

/** The whole dashboard. */
export function App() {
  return (
    <SessionProvider>
      <Layout>
        <Routes />
      </Layout>
    </SessionProvider>
  );
}
