// The device-authorization flow as the dashboard sees it: look up a user code, approve or deny it.
import { api, type Schemas, unwrap } from '../../../shared/api.js';

export type DeviceInfo = Schemas['DeviceInfoDto'];

/** What a user code is about (status, expiry). */
export function getDevice(userCode: string): Promise<DeviceInfo> {
  return unwrap(api.GET('/api/v1/auth/device/{user_code}', { params: { path: { user_code: userCode } } }));
}

/** Lets the CLI that shows this code sign in as the current account. */
export async function approveDevice(userCode: string): Promise<void> {
  await unwrap(api.POST('/api/v1/auth/device/approve', { body: { user_code: userCode } }));
}

/** Refuses the sign-in of the CLI that shows this code. */
export async function denyDevice(userCode: string): Promise<void> {
  await unwrap(api.POST('/api/v1/auth/device/deny', { body: { user_code: userCode } }));
}
