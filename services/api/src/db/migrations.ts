// The ordered list of every migration; append new ones at the end, never edit an applied one.

import { initial } from './migrations/0001_initial.js';
import { projectSettings } from './migrations/0002_project_settings.js';
import { projectBuildpack } from './migrations/0003_project_buildpack.js';
import type { Migration } from './migrator.js';

export const MIGRATIONS: readonly Migration[] = [initial, projectSettings, projectBuildpack];
