/*
 * Another process that holds the PIN tries C_SignRecover (CKM_RSA_X_509, raw RSA) with
 * the private key whose CKA_ID is argv[2] (hex), on the token labelled
 * $KMS_TEST_PKCS11_LABEL (default kms-test) of the module argv[1], logging in with
 * $KMS_PKCS11_PIN. cryptoki 0.12 has no C_SignRecover, hence this program.
 *
 * Prints one line: "init 0x<CKR>" when C_SignRecoverInit fails, else "sign 0x<CKR>" of
 * C_SignRecover. Exits 2 when it cannot get that far (no module, token, login or key). It
 * never prints the PIN.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <p11-kit/pkcs11.h>

static int fail(const char *what, CK_RV rv) {
    fprintf(stderr, "%s: 0x%lx\n", what, (unsigned long)rv);
    return 2;
}

int main(int argc, char **argv) {
    if (argc != 3) return fail("usage: sign_recover MODULE KEY_ID_HEX", 0);
    unsigned char id[256];
    size_t id_len = strlen(argv[2]) / 2;
    if (id_len == 0 || id_len > sizeof id) return fail("bad key ID", 0);
    for (size_t i = 0; i < id_len; i++) {
        unsigned int byte;
        if (sscanf(argv[2] + 2 * i, "%2x", &byte) != 1) return fail("bad key ID", 0);
        id[i] = (unsigned char)byte;
    }
    const char *pin = getenv("KMS_PKCS11_PIN");
    const char *label = getenv("KMS_TEST_PKCS11_LABEL");
    if (pin == NULL) return fail("KMS_PKCS11_PIN is not set", 0);
    if (label == NULL) label = "kms-test";

    void *module = dlopen(argv[1], RTLD_NOW);
    if (module == NULL) return fail("dlopen", 0);
    CK_C_GetFunctionList get_function_list =
        (CK_C_GetFunctionList)dlsym(module, "C_GetFunctionList");
    CK_FUNCTION_LIST *p11;
    if (get_function_list == NULL || get_function_list(&p11) != CKR_OK)
        return fail("C_GetFunctionList", 0);
    CK_C_INITIALIZE_ARGS init = {.flags = CKF_OS_LOCKING_OK};
    CK_RV rv = p11->C_Initialize(&init);
    if (rv != CKR_OK) return fail("C_Initialize", rv);

    CK_SLOT_ID slots[64];
    CK_ULONG slot_count = 64;
    rv = p11->C_GetSlotList(CK_TRUE, slots, &slot_count);
    if (rv != CKR_OK) return fail("C_GetSlotList", rv);
    CK_SESSION_HANDLE session = CK_INVALID_HANDLE;
    for (CK_ULONG i = 0; i < slot_count && session == CK_INVALID_HANDLE; i++) {
        CK_TOKEN_INFO info;
        if (p11->C_GetTokenInfo(slots[i], &info) != CKR_OK) continue;
        size_t len = sizeof info.label;
        while (len > 0 && info.label[len - 1] == ' ') len--;
        if (len != strlen(label) || memcmp(info.label, label, len) != 0) continue;
        rv = p11->C_OpenSession(slots[i], CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL,
                                &session);
        if (rv != CKR_OK) return fail("C_OpenSession", rv);
    }
    if (session == CK_INVALID_HANDLE) return fail("no token with that label", 0);
    rv = p11->C_Login(session, CKU_USER, (CK_UTF8CHAR *)pin, strlen(pin));
    if (rv != CKR_OK) return fail("C_Login", rv);

    CK_OBJECT_CLASS class = CKO_PRIVATE_KEY;
    CK_ATTRIBUTE template[] = {
        {CKA_CLASS, &class, sizeof class},
        {CKA_ID, id, id_len},
    };
    CK_OBJECT_HANDLE key;
    CK_ULONG found = 0;
    if (p11->C_FindObjectsInit(session, template, 2) != CKR_OK ||
        p11->C_FindObjects(session, &key, 1, &found) != CKR_OK ||
        p11->C_FindObjectsFinal(session) != CKR_OK || found != 1)
        return fail("the key is not there", 0);

    CK_MECHANISM mechanism = {CKM_RSA_X_509, NULL, 0};
    rv = p11->C_SignRecoverInit(session, &mechanism, key);
    if (rv != CKR_OK) {
        printf("init 0x%lx\n", (unsigned long)rv);
    } else {
        unsigned char data[32] = {0}, signature[1024];
        CK_ULONG signature_len = sizeof signature;
        rv = p11->C_SignRecover(session, data, sizeof data, signature, &signature_len);
        printf("sign 0x%lx\n", (unsigned long)rv);
    }
    p11->C_Logout(session);
    p11->C_CloseSession(session);
    p11->C_Finalize(NULL);
    return 0;
}
