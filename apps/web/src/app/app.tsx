// The dashboard's shell: layout and the route table.
import { Layout } from './layout.js';
import { Routes } from './routes.js';

/** The whole dashboard. */
export function App() {
  return (
    <Layout>
      <Routes />
    </Layout>
  );
}
