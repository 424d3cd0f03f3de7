/*
 * A test token with vendor-defined SM4 and SM2 mechanisms: a PKCS#11 module that forwards
 * every call to the module SHIM_TARGET (SoftHSM2, its path given when this is compiled),
 * except that it lists the vendor mechanism numbers below and carries them out with the
 * target's own:
 *
 *   SHIM_CKM_SM4_KEY_GEN       -> CKM_AES_KEY_GEN   (an SM4 key is a 16-byte AES key here)
 *   SHIM_CKM_SM4_GCM           -> CKM_AES_GCM       (same CK_GCM_PARAMS)
 *   SHIM_CKM_SM2_KEY_PAIR_GEN  -> CKM_EC_KEY_PAIR_GEN (on the SM2 curve the caller names)
 *   SHIM_CKK_SM4 / SHIM_CKK_SM2 in templates -> CKK_AES / CKK_EC
 *
 * So the engine's vendor-mechanism path (the map, the capability probe, vendor mechanism
 * and key type numbers, CK_GCM_PARAMS passed to a vendor mechanism) runs end to end. It is
 * not SM4: the cipher underneath is AES-128, which a real SM4 token replaces.
 */
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <p11-kit/pkcs11.h>

#ifndef SHIM_TARGET
#error "compile with -DSHIM_TARGET=\"/path/to/the/target/module.so\""
#endif

#define SHIM_CKM_SM4_KEY_GEN 0x80000101UL
#define SHIM_CKM_SM4_GCM 0x80000102UL
#define SHIM_CKM_SM2_KEY_PAIR_GEN 0x80000201UL
#define SHIM_CKK_SM4 0x80000100UL
#define SHIM_CKK_SM2 0x80000200UL

static CK_FUNCTION_LIST *target;
static CK_FUNCTION_LIST shim;

static const CK_MECHANISM_TYPE vendor_mechanisms[] = {
    SHIM_CKM_SM4_KEY_GEN, SHIM_CKM_SM4_GCM, SHIM_CKM_SM2_KEY_PAIR_GEN};
#define VENDOR_COUNT (sizeof vendor_mechanisms / sizeof vendor_mechanisms[0])

static CK_MECHANISM_TYPE real_mechanism(CK_MECHANISM_TYPE type) {
    switch (type) {
    case SHIM_CKM_SM4_KEY_GEN: return CKM_AES_KEY_GEN;
    case SHIM_CKM_SM4_GCM: return CKM_AES_GCM;
    case SHIM_CKM_SM2_KEY_PAIR_GEN: return CKM_EC_KEY_PAIR_GEN;
    default: return type;
    }
}

/* A copy of `template` with vendor key types replaced; the caller frees it. */
static CK_ATTRIBUTE *real_template(const CK_ATTRIBUTE *template, CK_ULONG count,
                                   CK_KEY_TYPE *key_types) {
    CK_ATTRIBUTE *copy = calloc(count ? count : 1, sizeof *copy);
    if (copy == NULL) return NULL;
    for (CK_ULONG i = 0; i < count; i++) {
        copy[i] = template[i];
        if (template[i].type == CKA_KEY_TYPE && template[i].ulValueLen == sizeof(CK_KEY_TYPE)) {
            CK_KEY_TYPE key_type = *(const CK_KEY_TYPE *)template[i].pValue;
            if (key_type == SHIM_CKK_SM4) key_type = CKK_AES;
            if (key_type == SHIM_CKK_SM2) key_type = CKK_EC;
            key_types[i] = key_type;
            copy[i].pValue = &key_types[i];
        }
    }
    return copy;
}

static CK_RV shim_GetMechanismList(CK_SLOT_ID slot, CK_MECHANISM_TYPE *list, CK_ULONG *count) {
    if (count == NULL) return CKR_ARGUMENTS_BAD;
    CK_ULONG real_count = 0;
    CK_RV rv = target->C_GetMechanismList(slot, NULL, &real_count);
    if (rv != CKR_OK) return rv;
    if (list == NULL) {
        *count = real_count + VENDOR_COUNT;
        return CKR_OK;
    }
    if (*count < real_count + VENDOR_COUNT) {
        *count = real_count + VENDOR_COUNT;
        return CKR_BUFFER_TOO_SMALL;
    }
    rv = target->C_GetMechanismList(slot, list, &real_count);
    if (rv != CKR_OK) return rv;
    memcpy(list + real_count, vendor_mechanisms, sizeof vendor_mechanisms);
    *count = real_count + VENDOR_COUNT;
    return CKR_OK;
}

static CK_RV shim_GetMechanismInfo(CK_SLOT_ID slot, CK_MECHANISM_TYPE type, CK_MECHANISM_INFO *info) {
    return target->C_GetMechanismInfo(slot, real_mechanism(type), info);
}

static CK_RV shim_GenerateKey(CK_SESSION_HANDLE session, CK_MECHANISM *mechanism,
                              CK_ATTRIBUTE *template, CK_ULONG count, CK_OBJECT_HANDLE *key) {
    if (mechanism == NULL) return CKR_ARGUMENTS_BAD;
    CK_MECHANISM real = *mechanism;
    real.mechanism = real_mechanism(mechanism->mechanism);
    CK_KEY_TYPE *key_types = calloc(count ? count : 1, sizeof *key_types);
    CK_ATTRIBUTE *copy = key_types ? real_template(template, count, key_types) : NULL;
    if (copy == NULL) { free(key_types); return CKR_HOST_MEMORY; }
    CK_RV rv = target->C_GenerateKey(session, &real, copy, count, key);
    free(copy);
    free(key_types);
    return rv;
}

static CK_RV shim_GenerateKeyPair(CK_SESSION_HANDLE session, CK_MECHANISM *mechanism,
                                  CK_ATTRIBUTE *public_template, CK_ULONG public_count,
                                  CK_ATTRIBUTE *private_template, CK_ULONG private_count,
                                  CK_OBJECT_HANDLE *public_key, CK_OBJECT_HANDLE *private_key) {
    if (mechanism == NULL) return CKR_ARGUMENTS_BAD;
    CK_MECHANISM real = *mechanism;
    real.mechanism = real_mechanism(mechanism->mechanism);
    CK_KEY_TYPE *public_types = calloc(public_count ? public_count : 1, sizeof(CK_KEY_TYPE));
    CK_KEY_TYPE *private_types = calloc(private_count ? private_count : 1, sizeof(CK_KEY_TYPE));
    CK_ATTRIBUTE *public_copy = public_types ? real_template(public_template, public_count, public_types) : NULL;
    CK_ATTRIBUTE *private_copy = private_types ? real_template(private_template, private_count, private_types) : NULL;
    CK_RV rv = CKR_HOST_MEMORY;
    if (public_copy != NULL && private_copy != NULL)
        rv = target->C_GenerateKeyPair(session, &real, public_copy, public_count, private_copy,
                                       private_count, public_key, private_key);
    free(public_copy);
    free(private_copy);
    free(public_types);
    free(private_types);
    return rv;
}

static CK_RV shim_EncryptInit(CK_SESSION_HANDLE session, CK_MECHANISM *mechanism, CK_OBJECT_HANDLE key) {
    if (mechanism == NULL) return CKR_ARGUMENTS_BAD;
    CK_MECHANISM real = *mechanism;
    real.mechanism = real_mechanism(mechanism->mechanism);
    return target->C_EncryptInit(session, &real, key);
}

static CK_RV shim_DecryptInit(CK_SESSION_HANDLE session, CK_MECHANISM *mechanism, CK_OBJECT_HANDLE key) {
    if (mechanism == NULL) return CKR_ARGUMENTS_BAD;
    CK_MECHANISM real = *mechanism;
    real.mechanism = real_mechanism(mechanism->mechanism);
    return target->C_DecryptInit(session, &real, key);
}

CK_RV C_GetFunctionList(CK_FUNCTION_LIST **list) {
    if (list == NULL) return CKR_ARGUMENTS_BAD;
    if (target == NULL) {
        void *module = dlopen(SHIM_TARGET, RTLD_NOW | RTLD_LOCAL);
        CK_RV (*get_function_list)(CK_FUNCTION_LIST **) =
            module ? (CK_RV (*)(CK_FUNCTION_LIST **))dlsym(module, "C_GetFunctionList") : NULL;
        if (get_function_list == NULL || get_function_list(&target) != CKR_OK) return CKR_GENERAL_ERROR;
        shim = *target;
        shim.C_GetFunctionList = C_GetFunctionList;
        shim.C_GetMechanismList = shim_GetMechanismList;
        shim.C_GetMechanismInfo = shim_GetMechanismInfo;
        shim.C_GenerateKey = shim_GenerateKey;
        shim.C_GenerateKeyPair = shim_GenerateKeyPair;
        shim.C_EncryptInit = shim_EncryptInit;
        shim.C_DecryptInit = shim_DecryptInit;
    }
    *list = &shim;
    return CKR_OK;
}
