export interface RgwState {
  endpoint: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  /** "Ceph RGW 16.2". */
  name: string;
}
export interface Rgw extends RgwState {
  dir: string;
  startupMs: number;
  stop(): Promise<void>;
}
/** Whether the Ceph packages that run a gateway are installed. */
export function rgwInstalled(): boolean;
/** "Ceph RGW 16.2", from the installed radosgw. */
export function rgwName(): string;
/** Starts a throwaway single-host cluster in `dir` (a new temp folder by default). */
export function startRgw(options?: { dir?: string; buckets?: string[] }): Promise<Rgw>;
/** The cluster running in `dir`, or null. */
export function readRgw(dir: string): Promise<RgwState | null>;
export function createBuckets(rgw: RgwState, buckets: string[]): Promise<void>;
/** Stops the cluster in `dir` (gateway, OSD, monitor) and deletes the folder. */
export function stopRgw(dir: string): Promise<void>;
